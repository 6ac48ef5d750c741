/// The 8-bit float format E4M3 ("fn": finite, no infinities), as `torch.float8_e4m3fn` and the
/// `F8_E4M3` safetensors dtype store it: 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits.
/// Largest finite value 448; `0x7F`/`0xFF` are NaN; values below 2^-6 are subnormal.
public enum FP8E4M3 {
    /// The largest finite magnitude.
    public static let largestFinite: Float = 448

    /// The value of every bit pattern (index = pattern).
    public static let values: [Float] = (0..<256).map { decode(UInt8($0)) }

    /// The `Float` a bit pattern stands for (exact).
    @inlinable
    public static func float(_ bits: UInt8) -> Float { values[Int(bits)] }

    private static func decode(_ bits: UInt8) -> Float {
        let sign: Float = bits & 0x80 == 0 ? 1 : -1
        let exponent = Int(bits >> 3) & 0xF, mantissa = Float(bits & 7)
        if exponent == 15 && bits & 7 == 7 { return .nan }
        if exponent == 0 { return sign * mantissa / 8 * 0x1p-6 }
        return sign * (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }

    /// The bit pattern nearest to `value`, ties to even; magnitudes past 448 saturate to ±448 (as the
    /// GPU's `satfinite` conversion does) and NaN stays NaN.
    @inlinable
    public static func bits(_ value: Float) -> UInt8 {
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        let magnitude = abs(value)
        if magnitude.isNaN { return sign | 0x7F }
        if magnitude >= largestFinite { return sign | 0x7E }
        if magnitude < 0x1p-6 {
            // Subnormals are whole multiples of 2^-9; the multiple is the bit pattern (8 is the smallest normal).
            return sign | UInt8((magnitude * 512).rounded(.toNearestOrEven))
        }
        // Keep 3 of the 23 mantissa bits, rounding the 20 dropped bits to nearest, ties to even; the carry
        // may step the exponent up. Rebias the exponent from 127 to 7.
        let pattern = magnitude.bitPattern
        let rounded = (pattern &+ 0x7FFFF &+ ((pattern >> 20) & 1)) >> 20
        return sign | UInt8(min(rounded &- (120 << 3), 0x7E))
    }
}

/// Per-row (per output channel) 8-bit quantization of a weight matrix, the layout FP8 checkpoints use:
/// `row r = scale[r] * e4m3(values[r])`, `scale[r] = max|row r| / 448` (1 for a row of zeros).
public struct RowQuantizedMatrix: Sendable {
    /// `rows * columns` E4M3 bit patterns, row-major.
    public var values: [UInt8]
    /// One fp32 scale per row.
    public var scales: [Float]
    public let rows: Int
    public let columns: Int

    public init(values: [UInt8], scales: [Float], rows: Int, columns: Int) {
        self.values = values
        self.scales = scales
        self.rows = rows
        self.columns = columns
    }

    /// Quantizes `rows x columns` values of `dtype` (`bf16`, `f16` or `f32`) stored row-major in `bytes`,
    /// spreading the rows over the cores.
    public init(quantizing bytes: UnsafeRawBufferPointer, dtype: DType, rows: Int, columns: Int) throws {
        guard dtype != .f8e4m3 else {
            throw TensorError.unsupportedDType(
                op: "quantize", argument: "weight", dtype: dtype, supported: [.bf16, .f16, .f32])
        }
        guard rows >= 0, columns >= 0, bytes.count == rows * columns * dtype.byteSize else {
            throw TensorError.byteCountMismatch(expected: rows * columns * dtype.byteSize, actual: bytes.count)
        }
        var values = [UInt8](repeating: 0, count: rows * columns)
        var scales = [Float](repeating: 1, count: rows)
        let source = bytes.baseAddress
        values.withUnsafeMutableBufferPointer { valueBuffer in
            scales.withUnsafeMutableBufferPointer { scaleBuffer in
                guard let source, let valueStart = valueBuffer.baseAddress, let scaleStart = scaleBuffer.baseAddress
                else { return }
                // Addresses cross into the worker closures as integers; each worker writes its own rows.
                let (sourceAddress, valueAddress, scaleAddress) = (
                    UInt(bitPattern: source), UInt(bitPattern: valueStart), UInt(bitPattern: scaleStart)
                )
                let block = max(1, (1 << 20) / max(columns, 1))
                ConcurrentRows.forEachChunk(of: rows, size: block) { chunk in
                    guard let source = UnsafeRawPointer(bitPattern: sourceAddress),
                        let valueBase = UnsafeMutablePointer<UInt8>(bitPattern: valueAddress),
                        let scaleBase = UnsafeMutablePointer<Float>(bitPattern: scaleAddress)
                    else { return }
                    var row = [Float](repeating: 0, count: columns)
                    for r in chunk {
                        HostFloats.read(source + r * columns * dtype.byteSize, dtype: dtype, into: &row)
                        let scale = Self.scale(ofRow: row)
                        scaleBase[r] = scale
                        let target = valueBase + r * columns
                        for c in 0..<columns { target[c] = FP8E4M3.bits(row[c] / scale) }
                    }
                }
            }
        }
        self.init(values: values, scales: scales, rows: rows, columns: columns)
    }

    /// `max|x| / 448`, or 1 when every value is zero (or not finite, which the load checks report).
    static func scale(ofRow row: [Float]) -> Float {
        var largest: Float = 0
        for value in row where value.isFinite { largest = max(largest, abs(value)) }
        return largest > 0 ? largest / FP8E4M3.largestFinite : 1
    }

    /// The matrix as bf16 bit patterns (`e4m3 * scale`, rounded to bf16): the weight-only path for
    /// backends or precisions that do not keep 8-bit weights.
    public func bf16Bits() -> [UInt16] {
        dequantized().map(HalfConversion.bf16Bits)
    }

    /// The values the matrix stands for, `e4m3 * scale` in fp32 (exact), row-major.
    public func dequantized() -> [Float] {
        values.enumerated().map { FP8E4M3.float($0.element) * scales[$0.offset / columns] }
    }
}
