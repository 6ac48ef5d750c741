/// A tensor whose dtype this engine cannot read, with the file it was found in.
public struct UnsupportedTensor: Sendable, Hashable {
    /// Tensor name.
    public let tensor: String
    /// Path of the file holding it.
    public let file: String
    /// The dtype string from the header (`"F64"`, `"I64"`, ...).
    public let dtype: String

    /// Creates a record.
    public init(tensor: String, file: String, dtype: String) {
        self.tensor = tensor
        self.file = file
        self.dtype = dtype
    }
}

/// Everything that can go wrong reading or writing safetensors files and checkpoints.
///
/// Every case names the file (and the tensor where there is one) so a user can find the culprit.
public enum SafeTensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    // MARK: Opening a file
    case cannotOpen(file: String, reason: String)
    case fileTooSmall(file: String, size: Int)
    case headerLengthInvalid(file: String, headerLength: UInt64, fileSize: Int)
    case headerNotUTF8(file: String)
    case headerNotJSON(file: String, detail: String)
    case invalidMetadata(file: String, detail: String)
    case invalidEntry(file: String, tensor: String, detail: String)
    case negativeDimension(file: String, tensor: String, shape: [Int])
    case sizeOverflow(file: String, tensor: String, shape: [Int])
    case offsetsInvalid(file: String, tensor: String, offsets: [Int])
    case offsetsOutOfBounds(file: String, tensor: String, end: Int, dataSize: Int)
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    case overlappingTensors(file: String, first: String, second: String)
    case unsupportedDTypes([UnsupportedTensor])

    // MARK: Checkpoints
    case noCheckpoint(directory: String)
    case indexInvalid(file: String, detail: String)
    case shardNameInvalid(index: String, shard: String)
    case shardMissing(index: String, shard: String)
    case tensorMissingFromShard(index: String, tensor: String, shard: String)
    case tensorNotInIndex(index: String, tensor: String, shard: String)
    case tensorInSeveralShards(tensor: String, shards: [String])
    case tensorNotFound(name: String, location: String)

    // MARK: Writing
    case invalidTensorForWriting(name: String, detail: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(file, reason):
            "cannot open \(file): \(reason)"
        case let .fileTooSmall(file, size):
            "\(file) is \(size) bytes, too small to be a safetensors file (it needs an 8-byte header length and a header); re-download it"
        case let .headerLengthInvalid(file, headerLength, fileSize):
            "\(file) declares a \(headerLength)-byte header but the file is \(fileSize) bytes (limit 100 MB): the file is truncated or not a safetensors file"
        case let .headerNotUTF8(file):
            "the header of \(file) is not valid UTF-8: the file is corrupt or not a safetensors file"
        case let .headerNotJSON(file, detail):
            "the header of \(file) is not a valid JSON object (\(detail)): the file is corrupt or not a safetensors file"
        case let .invalidMetadata(file, detail):
            "the __metadata__ of \(file) is invalid: \(detail)"
        case let .invalidEntry(file, tensor, detail):
            "tensor \(tensor) in file \(file) has an invalid header entry: \(detail)"
        case let .negativeDimension(file, tensor, shape):
            "tensor \(tensor) in file \(file) has a negative dimension in shape \(describe(shape: shape))"
        case let .sizeOverflow(file, tensor, shape):
            "tensor \(tensor) in file \(file) has shape \(describe(shape: shape)) whose byte size overflows: the header is corrupt"
        case let .offsetsInvalid(file, tensor, offsets):
            "tensor \(tensor) in file \(file) has data_offsets \(describe(shape: offsets)); expected two non-negative numbers [begin, end] with begin <= end"
        case let .offsetsOutOfBounds(file, tensor, end, dataSize):
            "tensor \(tensor) in file \(file) ends at byte \(end) of the data region but the region holds only \(dataSize) bytes: the file is truncated; re-download it"
        case let .sizeMismatch(file, tensor, expectedBytes, actualBytes):
            "tensor \(tensor) in file \(file) spans \(actualBytes) bytes but its shape and dtype need \(expectedBytes): the header is corrupt"
        case let .overlappingTensors(file, first, second):
            "tensors \(first) and \(second) in file \(file) overlap in the data region: the header is corrupt"
        case let .unsupportedDTypes(tensors):
            tensors.map {
                "tensor \($0.tensor) in file \($0.file) has dtype \($0.dtype); \(TensorDType.refusal(of: $0.dtype))"
            }.joined(separator: "\n")
        case let .noCheckpoint(directory):
            "\(directory) holds no checkpoint: expected model.safetensors.index.json (sharded) or model.safetensors"
        case let .indexInvalid(file, detail):
            "the index \(file) is invalid: \(detail)"
        case let .shardNameInvalid(index, shard):
            "the index \(index) names shard \"\(shard)\", which is not a plain file name in the same folder"
        case let .shardMissing(index, shard):
            "the index \(index) names shard \(shard), which does not exist next to it; download the missing shard"
        case let .tensorMissingFromShard(index, tensor, shard):
            "the index \(index) places tensor \(tensor) in \(shard), but that shard does not contain it"
        case let .tensorNotInIndex(index, tensor, shard):
            "shard \(shard) contains tensor \(tensor), which the index \(index) does not list"
        case let .tensorInSeveralShards(tensor, shards):
            "tensor \(tensor) is stored in several shards (\(shards.joined(separator: ", "))); a tensor must live in exactly one"
        case let .tensorNotFound(name, location):
            "no tensor named \(name) in \(location)"
        case let .invalidTensorForWriting(name, detail):
            "cannot write tensor \(name): \(detail)"
        case let .writeFailed(file, reason):
            "cannot write \(file): \(reason)"
        }
    }
}
