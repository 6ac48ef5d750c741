import CPUBackend
import TensorKit
import Testing

extension SeededGenerator {
    /// `count` values uniform in `range`.
    mutating func floats(_ count: Int, in range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &self) }
    }
}

/// Owns bytes the way a memory-mapped checkpoint would; frees them when released.
final class ByteOwner {
    let bytes: UnsafeMutableRawBufferPointer
    init(count: Int) { bytes = .allocate(byteCount: count, alignment: 64) }
    deinit { bytes.deallocate() }
}

/// A weight tensor of `dtype` holding `values` rounded to that type, made through `backend.weight`
/// over bytes owned by a `ByteOwner` (no copy). Returns the tensor and the exact values it holds.
func makeWeight(_ backend: CPUBackend, _ values: [Float], shape: [Int], dtype: DType) throws -> (Tensor, [Float]) {
    if dtype == .f8e4m3 { return try makeScaledWeight(backend, values, shape: shape) }
    let owner = ByteOwner(count: values.count * dtype.byteSize)
    var exact = values
    for (i, value) in values.enumerated() {
        switch dtype {
        case .f32:
            owner.bytes.storeBytes(of: value, toByteOffset: i * 4, as: Float.self)
        case .bf16:
            let bits = HalfConversion.bf16Bits(value)
            owner.bytes.storeBytes(of: bits, toByteOffset: i * 2, as: UInt16.self)
            exact[i] = HalfConversion.float(bf16: bits)
        case .f16:
            let bits = HalfConversion.f16Bits(value)
            owner.bytes.storeBytes(of: bits, toByteOffset: i * 2, as: UInt16.self)
            exact[i] = HalfConversion.float(f16: bits)
        case .f8e4m3:
            preconditionFailure("made by makeScaledWeight")
        }
    }
    let tensor = try backend.weight(
        UnsafeRawBufferPointer(owner.bytes), dtype: dtype, shape: shape, keepingAlive: owner)
    return (tensor, exact)
}

/// An 8-bit weight quantized per row from `values` (2-D), or a bf16 tensor for a 1-D one (biases stay
/// wide beside 8-bit weights), with the exact values it stands for.
func makeScaledWeight(_ backend: CPUBackend, _ values: [Float], shape: [Int]) throws -> (Tensor, [Float]) {
    guard shape.count == 2 else { return try makeWeight(backend, values, shape: shape, dtype: .bf16) }
    let matrix = try values.withUnsafeBytes {
        try RowQuantizedMatrix(quantizing: $0, dtype: .f32, rows: shape[0], columns: shape[1])
    }
    let exact = matrix.dequantized()
    let tensor = try matrix.values.withUnsafeBytes {
        try backend.scaledWeight($0, rowScales: matrix.scales, shape: shape)
    }
    return (tensor, exact)
}

/// Checks `|actual - expected| <= absolute + relative * |expected|` element by element and reports
/// the worst element when it fails.
func expectClose(
    _ actual: [Float], _ expected: [Double], absolute: Double, relative: Double,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    var worst: (index: Int, excess: Double)? = nil
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(Double(a) - e) - (absolute + relative * abs(e))
        if excess > 0 && excess > (worst?.excess ?? 0) || (Double(a).isNaN != e.isNaN) { worst = (i, excess) }
    }
    if let worst {
        let message =
            "element \(worst.index): got \(actual[worst.index]), expected \(expected[worst.index]) "
            + "(tolerance \(absolute) + \(relative) * |expected|)"
        Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
    }
}

/// Backends with different thread counts and block sizes, so small test shapes still cross every
/// block boundary and run both the inline and the parallel paths.
enum Backends {
    static let all: [CPUBackend] = [
        CPUBackend(threads: 1, linearPanelRows: 64, attentionRowBlock: 64),
        CPUBackend(threads: 3, linearPanelRows: 5, attentionRowBlock: 4),
        // A many-core machine (the GPU machine's 16 cores): more threads than rows in some ops.
        CPUBackend(threads: 16),
        CPUBackend(),
    ]
}

extension CPUBackend: CustomTestStringConvertible {
    public var testDescription: String {
        "CPU(threads: \(threads), panel: \(linearPanelRows), attention block: \(attentionRowBlock))"
    }
}
