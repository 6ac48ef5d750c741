import Foundation

/// A model's weights on disk: one `.safetensors` file, or shards listed by a
/// `model.safetensors.index.json`. Every file is mapped and validated when the checkpoint opens,
/// and the index is checked against what the shards really hold.
public final class Checkpoint: @unchecked Sendable {
    /// Conventional name of a single-file checkpoint.
    public static let singleFileName = "model.safetensors"

    /// The directory (or file) the checkpoint was opened from.
    public let location: URL
    /// The index file, for a sharded checkpoint.
    public let indexURL: URL?
    /// The index's `metadata.total_size`, when given.
    public let indexTotalSize: Int?
    /// Whether the files are mapped or were read into memory.
    public let loading: WeightLoading
    /// The opened files, in shard-name order.
    public let files: [SafeTensorFile]
    /// Every tensor, by name.
    public let tensors: [String: TensorInfo]
    private let owner: [String: Int]

    /// Opens the checkpoint at `url`: a directory holding `model.safetensors.index.json` (preferred) or
    /// `model.safetensors`, or directly a `.safetensors` file or an index `.json` file. Every file must be a
    /// regular file; `loading` says whether the shards are mapped or read into memory.
    public init(url: URL, loading: WeightLoading = .memoryMapped) throws(SafeTensorsError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw .cannotOpen(file: url.path, reason: "no such file or directory")
        }
        let indexURL: URL?
        let fileURLs: [URL]
        if isDirectory.boolValue {
            let index = url.appendingPathComponent(ShardIndex.fileName)
            let single = url.appendingPathComponent(Self.singleFileName)
            if FileManager.default.fileExists(atPath: index.path) {
                indexURL = index
            } else if FileManager.default.fileExists(atPath: single.path) {
                indexURL = nil
            } else {
                throw .noCheckpoint(directory: url.path)
            }
            fileURLs = indexURL == nil ? [single] : []
        } else {
            indexURL = url.pathExtension == "json" ? url : nil
            fileURLs = indexURL == nil ? [url] : []
        }
        location = url
        self.loading = loading
        self.indexURL = indexURL
        if let indexURL {
            let index = try ShardIndex(url: indexURL)
            indexTotalSize = index.totalSize
            files = try Self.openShards(
                index, folder: indexURL.deletingLastPathComponent(), indexPath: indexURL.path, loading: loading)
            (tensors, owner) = try Self.collect(files)
            try Self.check(index, against: files, owner: owner, indexPath: indexURL.path)
        } else {
            indexTotalSize = nil
            files = try Self.open(fileURLs, loading: loading)
            (tensors, owner) = try Self.collect(files)
        }
    }

    /// Convenience for `init(url:loading:)` with a directory.
    public convenience init(directory: URL, loading: WeightLoading = .memoryMapped) throws(SafeTensorsError) {
        try self.init(url: directory, loading: loading)
    }

    /// Every tensor name, sorted.
    public var tensorNames: [String] { tensors.keys.sorted() }

    /// The files making up the checkpoint.
    public var shardFiles: [URL] { files.map(\.url) }

    /// Description of tensor `name`, or nil when absent.
    public func info(_ name: String) -> TensorInfo? { tensors[name] }

    /// The file holding tensor `name`.
    public func file(containing name: String) -> SafeTensorFile? {
        owner[name].map { files[$0] }
    }

    /// Raw bytes of tensor `name`; valid while this checkpoint lives.
    public func bytes(_ name: String) throws(SafeTensorsError) -> UnsafeRawBufferPointer {
        guard let file = file(containing: name) else { throw .tensorNotFound(name: name, location: location.path) }
        return try file.bytes(name)
    }

    /// Tensor `name` converted to float32.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let file = file(containing: name) else { throw .tensorNotFound(name: name, location: location.path) }
        return try file.floats(name)
    }

    // MARK: Opening

    private static func openShards(_ index: ShardIndex, folder: URL, indexPath: String, loading: WeightLoading)
        throws(SafeTensorsError) -> [SafeTensorFile]
    {
        var urls: [URL] = []
        for shard in index.shardNames {
            let url = folder.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw .shardMissing(index: indexPath, shard: shard)
            }
            urls.append(url)
        }
        return try open(urls, loading: loading)
    }

    /// Opens every file; unsupported dtypes across all files are reported together.
    private static func open(_ urls: [URL], loading: WeightLoading) throws(SafeTensorsError) -> [SafeTensorFile] {
        var files: [SafeTensorFile] = []
        var unsupported: [UnsupportedTensor] = []
        for url in urls {
            do {
                files.append(try SafeTensorFile(url: url, loading: loading))
            } catch .unsupportedDTypes(let tensors) {
                unsupported += tensors
            }
        }
        guard unsupported.isEmpty else { throw .unsupportedDTypes(unsupported) }
        return files
    }

    private static func collect(_ files: [SafeTensorFile]) throws(SafeTensorsError) -> (
        [String: TensorInfo], [String: Int]
    ) {
        var holders: [String: [Int]] = [:]
        for (position, file) in files.enumerated() {
            for name in file.tensors.keys { holders[name, default: []].append(position) }
        }
        if let name = holders.keys.sorted().first(where: { (holders[$0]?.count ?? 0) > 1 }) {
            let shards = (holders[name] ?? []).map { files[$0].url.lastPathComponent }
            throw .tensorInSeveralShards(tensor: name, shards: shards)
        }
        var tensors: [String: TensorInfo] = [:]
        var owner: [String: Int] = [:]
        for (name, positions) in holders {
            guard let position = positions.first, let info = files[position].tensors[name] else { continue }
            tensors[name] = info
            owner[name] = position
        }
        return (tensors, owner)
    }

    private static func check(
        _ index: ShardIndex, against files: [SafeTensorFile], owner: [String: Int], indexPath: String
    ) throws(SafeTensorsError) {
        for name in index.weightMap.keys.sorted() {
            guard let shard = index.weightMap[name] else { continue }
            guard let position = owner[name], files[position].url.lastPathComponent == shard else {
                throw .tensorMissingFromShard(index: indexPath, tensor: name, shard: shard)
            }
        }
        for name in owner.keys.sorted() where index.weightMap[name] == nil {
            let shard = owner[name].map { files[$0].url.lastPathComponent } ?? "?"
            throw .tensorNotInIndex(index: indexPath, tensor: name, shard: shard)
        }
    }
}
