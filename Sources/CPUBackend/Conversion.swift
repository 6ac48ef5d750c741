import TensorKit

/// Converts `count` elements of `dtype` at `source` to fp32 at `destination`.
///
/// Written as plain loops over unaligned-safe loads so the optimiser vectorises them; bf16 -> fp32 is a
/// 16-bit shift, f16 -> fp32 uses the hardware conversion where available.
@inline(__always)
func convertToFloat(_ source: UnsafeRawPointer, dtype: DType, into destination: UnsafeMutablePointer<Float>, count: Int)
{
    switch dtype {
    case .f32:
        destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
    case .bf16:
        let bits = source.assumingMemoryBound(to: UInt16.self)
        for i in 0..<count { destination[i] = Float(bitPattern: UInt32(bits[i]) << 16) }
    case .f16:
        let halves = source.assumingMemoryBound(to: Float16.self)
        for i in 0..<count { destination[i] = Float(halves[i]) }
    case .f8e4m3:
        // Unscaled: the caller multiplies each row by its scale (``convertScaledRows``).
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        FP8E4M3.values.withUnsafeBufferPointer { table in
            for i in 0..<count { destination[i] = table[Int(bytes[i])] }
        }
    }
}

/// Converts `rows` rows of `columns` 8-bit values to fp32, each row multiplied by its scale: the weight-only
/// FP8 product widens one panel of weight rows at a time.
func convertScaledRows(
    _ source: UnsafeRawPointer, scales: UnsafePointer<Float>, rows: Int, columns: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    convertToFloat(source, dtype: .f8e4m3, into: destination, count: rows * columns)
    for row in 0..<rows {
        let scale = scales[row]
        let target = destination + row * columns
        for column in 0..<columns { target[column] *= scale }
    }
}
