/// Why a tensor operation refused its inputs.
///
/// Every backend throws these for the same mistakes, so callers see one set of messages whatever
/// device runs the model. Each message says what was wrong and what to change.
public enum TensorError: Error, CustomStringConvertible, Equatable {
    /// Two shapes that must agree do not. `detail` names the tensors and the rule.
    case shapeMismatch(op: String, detail: String)
    /// The op does not support this element type for this argument.
    case unsupportedDType(op: String, argument: String, dtype: DType, supported: [DType])
    /// An index (token id, row index) falls outside `0..<limit`.
    case indexOutOfRange(op: String, index: Int, limit: Int)
    /// A list of indices names the same destination row twice.
    case duplicateIndex(op: String, index: Int)
    /// Cumulative sequence lengths that do not start at 0, decrease, or do not end at the token count.
    case invalidSequenceLengths(detail: String)
    /// A tensor was made by a different backend than the one asked to use it.
    case foreignTensor(op: String, expected: String, found: String)
    /// A buffer's size does not match the shape and type it is said to hold.
    case byteCountMismatch(expected: Int, actual: Int)
    /// A shape has a negative dimension or too many elements.
    case invalidShape([Int])
    /// An op was asked to write into a tensor whose memory is read-only (a memory-mapped weight).
    case readOnlyDestination(op: String)

    public var description: String {
        switch self {
        case .shapeMismatch(let op, let detail):
            return "\(op): shapes do not fit: \(detail)."
        case .unsupportedDType(let op, let argument, let dtype, let supported):
            let list = supported.map(\.rawValue).joined(separator: ", ")
            return "\(op): \(argument) has element type \(dtype), which this backend does not support here; "
                + "convert it to one of: \(list)."
        case .indexOutOfRange(let op, let index, let limit):
            return "\(op): index \(index) is out of range; valid indices are 0..<\(limit). "
                + "Check the token ids or row indices passed in."
        case .duplicateIndex(let op, let index):
            return "\(op): destination row \(index) is named more than once; each row may be written only once."
        case .invalidSequenceLengths(let detail):
            return "attention: invalid cumulative sequence lengths: \(detail). They must start at 0, never "
                + "decrease, and end at the number of tokens."
        case .foreignTensor(let op, let expected, let found):
            return "\(op): tensor lives on \(found), but this op runs on \(expected); create it with the same backend."
        case .byteCountMismatch(let expected, let actual):
            return "buffer holds \(actual) bytes but the shape and element type need \(expected); "
                + "check the tensor's shape, dtype and data offsets."
        case .invalidShape(let shape):
            return "shape \(shape) is invalid: every dimension must be >= 0 and the element count must fit in Int."
        case .readOnlyDestination(let op):
            return "\(op): the destination is a read-only weight tensor; write into an activation tensor instead."
        }
    }
}

/// An error a backend throws when the device could not give an op the memory it needed.
///
/// Callers that batch work (the reranker) retry with a smaller batch when ``isOutOfDeviceMemory`` is true;
/// any other error is final.
public protocol DeviceMemoryError: Error {
    /// True when a smaller batch may succeed where this one failed.
    var isOutOfDeviceMemory: Bool { get }
}
