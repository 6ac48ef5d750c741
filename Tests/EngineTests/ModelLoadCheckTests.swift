import CPUBackend
import Foundation
import Reranker
import SafeTensors
import TestSupport
import Testing

/// `Reranker.load` refuses broken model folders up front (so `serve` fails before binding its port), tells a
/// folder it may not read from a missing file, and can read the weights into memory (`--no-mmap`).
@Suite("Model loading: checks, permissions and weights read into memory")
struct ModelLoadCheckTests {
    static let query = RerankItem(text: "What is the capital of France?")
    static let documents = [
        RerankItem(text: "Paris is the capital of France."), RerankItem(text: "Bananas are yellow."),
    ]

    /// The message `Reranker.load` throws for `folder`, or nil when it loads.
    static func loadError(_ folder: URL) -> String? {
        do {
            _ = try Reranker.load(modelDirectory: folder, backend: CPUBackend())
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test("NaN in a norm weight fails the load, naming the tensor")
    func nonFiniteWeights() throws {
        let folder = try CheckpointSurgery.copyFixture()
        try CheckpointSurgery.rewrite("model.norm.weight", in: folder) { $0.map { _ in .nan } }
        let message = try #require(Self.loadError(folder), "a model with NaN weights loaded")
        #expect(message.contains("cannot be used"))
        #expect(message.contains("tensor model.norm.weight holds 64 NaN or infinite values"), "\(message)")
    }

    @Test("a tokenizer with ids beyond the embedding table fails the load")
    func tokenizerBeyondTable() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let url = folder.appendingPathComponent("tokenizer.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var added = try #require(object["added_tokens"] as? [[String: Any]])
        added.append(["id": 587, "content": "<|beyond|>", "special": true, "normalized": false])
        object["added_tokens"] = added
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let message = try #require(Self.loadError(folder), "a tokenizer beyond the table loaded")
        #expect(message.contains("<|beyond|> (id 587)"), "\(message)")
    }

    @Test("a min_pixels no prompt can hold fails the load (not the warm-up)")
    func pixelLimits() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let url = folder.appendingPathComponent("preprocessor_config.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object["min_pixels"] = 3300 * 28 * 28
        object["max_pixels"] = 3300 * 28 * 28
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let message = try #require(Self.loadError(folder), "a model whose images cannot fit loaded")
        #expect(message.contains("min_pixels"), "\(message)")
    }

    @Test("a folder this user may not read says permission denied, not a missing config.json")
    func permissionDenied() throws {
        let folder = try CheckpointSurgery.copyFixture()
        #expect(chmod(folder.path, 0o000) == 0)
        defer { chmod(folder.path, 0o755) }
        let message = try UnprivilegedAccess.run { Self.loadError(folder) }
        let text = try #require(message, "an unreadable folder loaded")
        #expect(text.contains("permission denied"), "\(text)")
        #expect(!text.contains("missing"), "\(text)")
    }

    @Test("a shard that is a FIFO fails the load at once")
    func fifoShard() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let shard = folder.appendingPathComponent("model-00001-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        try NamedPipe.make(at: shard)
        let message = NamedPipe.withTimeLimit(5, unblocking: shard) { Self.loadError(folder) }
        let outcome = try #require(message, "loading blocked on the FIFO shard")
        #expect(outcome?.contains("FIFO") == true, "\(outcome ?? "loaded")")
    }

    @Test("with the weights read into memory, truncating the shards after loading changes no score")
    func readIntoMemory() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let reranker = try Reranker.load(modelDirectory: folder, backend: CPUBackend(), weightLoading: .readIntoMemory)
        let before = try reranker.score(query: Self.query, documents: Self.documents)
        for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
            #expect(truncate(folder.appendingPathComponent(shard).path, 0) == 0)
        }
        let after = try reranker.score(query: Self.query, documents: Self.documents)
        #expect(after == before)
        #expect(before.allSatisfy { $0.score.isFinite })
    }
}
