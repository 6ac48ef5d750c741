/// Conversions between the stored element types and `Float`.
///
/// The bulk loops read with unaligned loads (tensor data need not be aligned in a file) and are
/// written branch-light so the compiler can vectorise them.
public enum FloatConversion {
    // MARK: Bulk, stored -> Float

    /// Converts `source` (elements of `dtype`, little-endian) to a new float array.
    public static func floats(_ source: UnsafeRawBufferPointer, dtype: TensorDType) -> [Float] {
        let count = source.count / dtype.byteSize
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            convert(source, dtype: dtype, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// Converts `source` (elements of `dtype`) into `destination`, which must hold exactly
    /// `source.count / dtype.byteSize` floats; extra destination elements are left untouched.
    public static func convert(
        _ source: UnsafeRawBufferPointer, dtype: TensorDType, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        switch dtype {
        case .bf16: bf16ToFloat(source, into: destination)
        case .f16: f16ToFloat(source, into: destination)
        case .f32: f32ToFloat(source, into: destination)
        case .f8e4m3: e4m3ToFloat(source, into: destination)
        }
    }

    /// bfloat16 -> float32: the 16 stored bits become the top half of the float.
    public static func bf16ToFloat(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        let count = min(source.count / 2, destination.count)
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        for index in 0..<count {
            let half = input.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self)
            output[index] = Float(bitPattern: UInt32(UInt16(littleEndian: half)) &<< 16)
        }
    }

    /// IEEE half -> float32, exact for every input (subnormals, infinities, NaN payloads).
    public static func f16ToFloat(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>)
    {
        let count = min(source.count / 2, destination.count)
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        for index in 0..<count {
            let half = input.loadUnaligned(fromByteOffset: 2 &* index, as: UInt16.self)
            output[index] = f16ToFloat(UInt16(littleEndian: half))
        }
    }

    /// float32 (little-endian bytes) -> float32.
    public static func f32ToFloat(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>)
    {
        let count = min(source.count / 4, destination.count)
        guard count > 0, let input = source.baseAddress, let output = destination.baseAddress else { return }
        for index in 0..<count {
            let bits = input.loadUnaligned(fromByteOffset: 4 &* index, as: UInt32.self)
            output[index] = Float(bitPattern: UInt32(littleEndian: bits))
        }
    }

    /// E4M3 -> float32, through a 256-entry table (exact; `0x7F`/`0xFF` give NaN).
    public static func e4m3ToFloat(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>
    ) {
        let count = min(source.count, destination.count)
        guard count > 0, let output = destination.baseAddress else { return }
        e4m3Table.withUnsafeBufferPointer { table in
            for index in 0..<count { output[index] = table[Int(source[index])] }
        }
    }

    // MARK: Scalars

    /// One bfloat16 bit pattern as a float.
    @inlinable
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) &<< 16)
    }

    /// One IEEE half bit pattern as a float.
    ///
    /// Exponent and mantissa are moved into float position and rescaled by 2^112 (the bias
    /// difference), which turns half subnormals into the right float normals; the all-ones exponent
    /// (infinity, NaN) is mapped to the float all-ones exponent, keeping the payload.
    @inlinable
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        let magnitude = UInt32(bits & 0x7fff) &<< 13
        let sign = UInt32(bits & 0x8000) &<< 16
        let scaled = Float(bitPattern: magnitude) * 0x1p112
        let special = Float(bitPattern: magnitude | 0x7f80_0000)
        let value = magnitude >= 0x0f80_0000 ? special : scaled
        return Float(bitPattern: value.bitPattern | sign)
    }

    /// A float rounded to bfloat16 (round to nearest, ties to even; NaN stays a quiet NaN).
    @inlinable
    public static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits &>> 16) | 0x0040 }
        let rounding = 0x7fff &+ ((bits &>> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) &>> 16)
    }

    /// A float rounded to IEEE half (round to nearest, ties to even; overflow gives infinity,
    /// tiny values give half subnormals or zero; NaN stays a quiet NaN).
    @inlinable
    public static func floatToF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits &>> 16) & 0x8000)
        let magnitude = bits & 0x7fff_ffff
        if magnitude > 0x7f80_0000 {  // NaN: keep the top payload bits, force quiet
            return sign | 0x7e00 | UInt16(truncatingIfNeeded: (magnitude &>> 13) & 0x03ff)
        }
        if magnitude >= 0x477f_f000 { return sign | 0x7c00 }  // rounds past 65504: infinity
        if magnitude < 0x3880_0000 {
            // Below 2^-14: adding 0.5 leaves the result's last float bit worth 2^-24, one half
            // subnormal step, so the hardware addition performs the ties-to-even rounding.
            let shifted = Float(bitPattern: magnitude) + 0.5
            return sign | UInt16(truncatingIfNeeded: shifted.bitPattern &- 0x3f00_0000)
        }
        let odd = (magnitude &>> 13) & 1
        let rebiased = magnitude &- 0x3800_0000 &+ 0x0fff &+ odd
        return sign | UInt16(truncatingIfNeeded: rebiased &>> 13)
    }

    /// One E4M3 bit pattern as a float (exact): 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits;
    /// exponent 0 is subnormal (multiples of 2^-9), `0x7F`/`0xFF` are NaN and there is no infinity.
    public static func e4m3ToFloat(_ bits: UInt8) -> Float {
        let exponent = Int(bits >> 3) & 0xF, mantissa = Int(bits & 7)
        let magnitude: Float
        if exponent == 15 && mantissa == 7 {
            magnitude = .nan
        } else if exponent == 0 {
            magnitude = Float(mantissa) * 0x1p-9
        } else {
            magnitude = Float(sign: .plus, exponent: exponent - 7, significand: 1 + Float(mantissa) / 8)
        }
        return bits & 0x80 == 0 ? magnitude : -magnitude
    }

    /// Every E4M3 bit pattern's value (index = pattern).
    static let e4m3Table: [Float] = (0...255).map { e4m3ToFloat(UInt8($0)) }

    /// A float rounded to E4M3 (round to nearest, ties to even); magnitudes past 448 saturate to ±448,
    /// as the GPU's `satfinite` conversion and the engine's quantizer do, and NaN stays NaN.
    public static func floatToE4M3(_ value: Float) -> UInt8 {
        let sign: UInt8 = value.sign == .minus ? 0x80 : 0
        let magnitude = abs(value)
        if magnitude.isNaN { return sign | 0x7F }
        if magnitude >= 448 { return sign | 0x7E }
        if magnitude < 0x1p-6 {
            // Subnormals are whole multiples of 2^-9, and the multiple is the pattern (8 is the smallest normal).
            return sign | UInt8((magnitude * 512).rounded(.toNearestOrEven))
        }
        // Keep 3 of the 23 mantissa bits (rounding the 20 dropped ones to nearest even; a carry may step the
        // exponent up), then rebias the exponent from 127 to 7.
        let bits = magnitude.bitPattern
        let rounded = (bits &+ 0x7FFFF &+ ((bits &>> 20) & 1)) &>> 20
        return sign | UInt8(min(rounded &- (120 << 3), 0x7E))
    }

    // MARK: Float -> stored bytes

    /// Little-endian bytes of `values` stored as `dtype` (rounded to nearest even where narrowing).
    public static func bytes(of values: [Float], as dtype: TensorDType) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(values.count * dtype.byteSize)
        for value in values {
            switch dtype {
            case .bf16: append(floatToBF16(value), to: &output)
            case .f16: append(floatToF16(value), to: &output)
            case .f8e4m3: output.append(floatToE4M3(value))
            case .f32:
                let bits = value.bitPattern
                for shift in stride(from: 0, to: 32, by: 8) {
                    output.append(UInt8(truncatingIfNeeded: bits &>> UInt32(shift)))
                }
            }
        }
        return output
    }

    private static func append(_ bits: UInt16, to output: inout [UInt8]) {
        output.append(UInt8(truncatingIfNeeded: bits))
        output.append(UInt8(truncatingIfNeeded: bits &>> 8))
    }
}
