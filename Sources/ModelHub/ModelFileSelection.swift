import Foundation

/// Which repository files the engine reads; everything else (PyTorch `.bin`, ONNX, images, docs) is skipped.
public enum ModelFileSelection {
    /// Configuration and tokenizer files fetched when the repository has them.
    public static let configurationFiles: Set<String> = [
        "config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.json",
    ]

    /// Whether the engine needs `path` (a file at the repository root).
    public static func isNeeded(_ path: String) -> Bool {
        if path.contains("/") { return false }
        if configurationFiles.contains(path) { return true }
        if path == "model.safetensors.index.json" { return true }
        return path.hasPrefix("model") && path.hasSuffix(".safetensors")
    }

    /// The needed files of a listing, checked to be a usable checkpoint (config.json, tokenizer.json and
    /// safetensors weights).
    public static func select(from listing: [String], model: String) throws -> [String] {
        let needed = listing.filter(isNeeded).sorted()
        guard needed.contains(where: { $0.hasSuffix(".safetensors") }) else {
            throw ModelHubError.noWeights(model: model, files: listing.sorted())
        }
        return needed
    }

    /// Whether `directory` holds a complete checkpoint: config.json, tokenizer.json and either
    /// model.safetensors or the index with every shard it names.
    public static func isComplete(directory: URL) -> Bool {
        let fileManager = FileManager.default
        func exists(_ name: String) -> Bool {
            fileManager.fileExists(atPath: directory.appendingPathComponent(name).path)
        }
        guard exists("config.json"), exists("tokenizer.json") else { return false }
        if exists("model.safetensors.index.json") {
            guard let shards = shardNames(indexAt: directory.appendingPathComponent("model.safetensors.index.json")),
                !shards.isEmpty
            else { return false }
            return shards.allSatisfy(exists)
        }
        return exists("model.safetensors")
    }

    /// The shard file names listed in a `model.safetensors.index.json` weight map.
    static func shardNames(indexAt url: URL) -> Set<String>? {
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let map = object["weight_map"] as? [String: Any]
        else { return nil }
        return Set(map.values.compactMap { $0 as? String })
    }
}
