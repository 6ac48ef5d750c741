@testable import SafeTensors

/// One fuzz input: the input is a whole `.safetensors` file (8-byte length, JSON header, data region).
///
/// Parses and validates the header exactly as `SafeTensorFile` does on open, then reads every tensor the header
/// accepted and converts it to float32, so that an offset or size the validation let through wrongly is read out
/// of bounds (AddressSanitizer reports it). Refusals are rendered as the messages users would see.
func safeTensorsHeaderFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let file = UnsafeRawBufferPointer(start: start, count: start == nil ? 0 : count)
    do {
        let header = try SafeTensorHeader(file: file, path: "fuzz.safetensors")
        for info in header.tensors.values {
            let begin = header.dataStart + info.dataOffset
            let bytes = UnsafeRawBufferPointer(rebasing: file[begin..<(begin + info.byteCount)])
            let floats = FloatConversion.floats(bytes, dtype: info.dtype)
            precondition(floats.count * info.dtype.byteSize == info.byteCount, "tensor \(info.name) read short")
        }
    } catch {
        _ = error.description
    }
    return 0
}
