import TensorKit

/// Converts `count` elements of `dtype` at `source` to fp32 at `destination`.
///
/// Written as plain loops over unaligned-safe loads so the optimiser vectorises them; bf16 -> fp32 is a
/// 16-bit shift, f16 -> fp32 uses the hardware conversion where available.
@inline(__always)
func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, into destination: UnsafeMutablePointer<Float>, count: Int) {
    switch dtype {
    case .f32:
        destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
    case .bf16:
        let bits = source.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { destination[i] = Float(bitPattern: UInt32(bits[i]) << 16) }
    case .f16:
        let halves = source.assumingMemoryBound(to: Float16.self)
        for i in 0..<count { destination[i] = Float(halves[i]) }
    }
}
