/// One tensor as described by a safetensors header, after validation.
public struct TensorInfo: Sendable, Hashable {
    /// The tensor's name as stored in the file.
    public let name: String
    /// Element type.
    public let dtype: TensorDType
    /// Dimensions, outermost first; `[]` is a scalar.
    public let shape: [Int]
    /// Size of the tensor's data in bytes (`elementCount * dtype.byteSize`).
    public let byteCount: Int
    /// Offset of the tensor's first byte from the start of the file's data region.
    public let dataOffset: Int

    /// Number of elements (product of `shape`; 1 for a scalar).
    public var elementCount: Int { byteCount / dtype.byteSize }

    /// Creates a description; `byteCount` is derived from the shape and dtype by the caller.
    public init(name: String, dtype: TensorDType, shape: [Int], byteCount: Int, dataOffset: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = byteCount
        self.dataOffset = dataOffset
    }
}

/// Formats a shape as `[2, 3]` for messages.
func describe(shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
