import Foundation
import RegularFiles

/// The contents of a `model.safetensors.index.json`: which shard file holds each tensor.
public struct ShardIndex: Sendable, Equatable {
    /// The conventional file name of a sharded checkpoint's index.
    public static let fileName = "model.safetensors.index.json"

    /// Tensor name -> shard file name (relative to the index's folder).
    public let weightMap: [String: String]
    /// `metadata.total_size` when present.
    public let totalSize: Int?

    /// Shard file names, sorted and without repeats.
    public var shardNames: [String] { Set(weightMap.values).sorted() }

    /// Parses and checks an index file's contents; `path` is used in messages.
    public init(data: Data, path: String) throws(SafeTensorsError) {
        let raw: RawIndex
        do {
            raw = try JSONDecoder().decode(RawIndex.self, from: data)
        } catch let error as DecodingError {
            throw .indexInvalid(file: path, detail: Self.explain(error))
        } catch {
            throw .indexInvalid(file: path, detail: "\(error)")
        }
        for shard in Set(raw.weightMap.values).sorted() where !Self.isPlainFileName(shard) {
            throw .shardNameInvalid(index: path, shard: shard)
        }
        weightMap = raw.weightMap
        totalSize = raw.metadata?.totalSize
    }

    /// Reads and parses the index at `url`.
    public init(url: URL) throws(SafeTensorsError) {
        let data: Data
        do { data = try RegularFile.contents(of: url) } catch {
            throw .cannotOpen(file: url.path, reason: error.reason)
        }
        try self.init(data: data, path: url.path)
    }

    /// A shard must sit next to its index: no folders, no `..`, nothing hidden behind a path.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.contains("\0")
    }

    private static func explain(_ error: DecodingError) -> String {
        switch error {
        case let .keyNotFound(key, _): "missing \"\(key.stringValue)\""
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type; weight_map must map tensor names to shard file names"
        case let .dataCorrupted(context): "not valid JSON (\(context.debugDescription))"
        @unknown default: "\(error)"
        }
    }
}

private struct RawIndex: Decodable {
    var weightMap: [String: String]
    var metadata: RawMetadata?

    enum CodingKeys: String, CodingKey {
        case weightMap = "weight_map"
        case metadata
    }
}

/// Index metadata is informative; only an integral `total_size` is kept, anything else is ignored.
private struct RawMetadata: Decodable {
    var totalSize: Int?

    enum CodingKeys: String, CodingKey { case totalSize = "total_size" }

    init(from decoder: any Decoder) throws {
        let container = try? decoder.container(keyedBy: CodingKeys.self)
        if let size = try? container?.decodeIfPresent(Int.self, forKey: .totalSize) {
            totalSize = size
        } else if let size = try? container?.decodeIfPresent(Double.self, forKey: .totalSize), size.isFinite,
            size >= 0, size < 0x1p62
        {
            totalSize = Int(size)
        }
    }
}
