/// Elements of a tensor copied to host memory in the type the backend stored them in
/// (``Backend/downloadRows(_:)``): a bf16 backend's activations take half the host memory of `Float`s and
/// cross without conversion either way. Uploading them (``Backend/upload(rows:shape:)``) to the same kind of
/// backend gives back the same values, so caches of them stay exact.
public struct HostRows: Sendable {
    /// The element type of ``bytes``.
    public let dtype: DType
    /// The elements, row-major.
    public let bytes: [UInt8]

    /// Elements of `dtype` in `bytes` (a whole number of them).
    public init(dtype: DType, bytes: [UInt8]) throws {
        guard bytes.count % dtype.byteSize == 0 else {
            throw TensorError.byteCountMismatch(
                expected: bytes.count / dtype.byteSize * dtype.byteSize, actual: bytes.count)
        }
        self.dtype = dtype
        self.bytes = bytes
    }

    /// `values` as fp32 elements.
    public init(_ values: [Float]) {
        dtype = .f32
        bytes = values.withUnsafeBytes { Array($0) }
    }

    /// Number of elements.
    public var count: Int { bytes.count / dtype.byteSize }

    /// Host bytes held.
    public var byteCount: Int { bytes.count }

    /// The elements as `Float`s (exact: every stored type widens to fp32 without rounding).
    public func floats() -> [Float] {
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            HostFloats.read(base, dtype: dtype, into: &values)
        }
        return values
    }
}
