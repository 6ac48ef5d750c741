import Foundation
import SafeTensors
import TestSupport
import Testing

@Suite("Checkpoints: single file and sharded index")
struct CheckpointTests {
    static let sharded = Fixtures.url("models/tiny-nested-sharded-tied")

    @Test func opensShardedCheckpoint() throws {
        let checkpoint = try Checkpoint(directory: Self.sharded)
        #expect(
            checkpoint.shardFiles.map(\.lastPathComponent) == [
                "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            ])
        #expect(checkpoint.indexURL?.lastPathComponent == "model.safetensors.index.json")
        let embed = try #require(checkpoint.info("model.language_model.embed_tokens.weight"))
        #expect(embed.dtype == .f32 && embed.shape == [128, 32])
        #expect(checkpoint.info("model.visual.patch_embed.proj.weight")?.dtype == .bf16)
        #expect(
            checkpoint.file(containing: "model.visual.merger.ln_q.weight")?.url.lastPathComponent
                == "model-00002-of-00002.safetensors")
        #expect(try checkpoint.bytes("model.language_model.norm.weight").count == 32 * 4)
        #expect(try checkpoint.floats("model.visual.merger.ln_q.weight").count == 16)
        let total = checkpoint.tensors.values.reduce(0) { $0 + $1.byteCount }
        #expect(checkpoint.indexTotalSize == total)
    }

    @Test func opensSingleFileCheckpointFromDirectoryOrFile() throws {
        let directory = Fixtures.url("models/tiny-legacy-untied")
        let fromDirectory = try Checkpoint(directory: directory)
        let fromFile = try Checkpoint(url: directory.appendingPathComponent("model.safetensors"))
        #expect(fromDirectory.tensorNames == fromFile.tensorNames)
        #expect(fromDirectory.indexURL == nil)
        #expect(fromDirectory.tensorNames.contains("visual.merger.mlp.2.bias"))
    }

    @Test func directoryWithoutWeights() throws {
        let folder = try Fixtures.temporaryDirectory("empty-model")
        #expect(throws: SafeTensorsError.noCheckpoint(directory: folder.path)) { try Checkpoint(directory: folder) }
    }

    @Test func unsupportedDTypesListedAcrossTheCheckpoint() throws {
        let url = Fixtures.url("models/broken-dtype")
        #expect {
            try Checkpoint(directory: url)
        } throws: { error in
            let text = "\(error)"
            return text.contains(
                "tensor model.norm.weight in file \(url.path)/model.safetensors has dtype F64; only BF16, F16, F32, F8_E4M3 are supported"
            )
                && text.contains("tensor model.embed_tokens.weight in file") && text.contains("has dtype I64")
        }
    }

    // MARK: Broken indexes, built from the sharded fixture

    /// Copies the sharded fixture and lets `edit` change the weight map or the files.
    private func brokenCopy(_ edit: (URL, inout [String: String]) throws -> Void) throws -> URL {
        let folder = try Fixtures.temporaryDirectory("broken-index")
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.sharded.path) {
            try FileManager.default.copyItem(
                at: Self.sharded.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let index = try ShardIndex(url: folder.appendingPathComponent(ShardIndex.fileName))
        var map = index.weightMap
        try edit(folder, &map)
        let json = try JSONSerialization.data(
            withJSONObject: ["metadata": [:], "weight_map": map], options: [.sortedKeys])
        try json.write(to: folder.appendingPathComponent(ShardIndex.fileName))
        return folder
    }

    private func expectCheckpointError(
        _ folder: URL, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try Checkpoint(directory: folder)
            Issue.record("checkpoint opened but should have been refused", sourceLocation: sourceLocation)
        } catch {
            for fragment in fragments {
                #expect(
                    error.description.contains(fragment), "\"\(error)\" lacks \"\(fragment)\"",
                    sourceLocation: sourceLocation)
            }
        }
    }

    @Test func missingShard() throws {
        let folder = try brokenCopy { folder, _ in
            try FileManager.default.removeItem(at: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        }
        expectCheckpointError(
            folder,
            ["names shard model-00002-of-00002.safetensors, which does not exist", "download the missing shard"])
    }

    @Test func tensorListedButAbsentFromItsShard() throws {
        let folder = try brokenCopy { _, map in map["model.visual.ghost.weight"] = "model-00002-of-00002.safetensors" }
        expectCheckpointError(
            folder,
            ["places tensor model.visual.ghost.weight in model-00002-of-00002.safetensors", "does not contain it"])
    }

    @Test func tensorIndexedInTheWrongShard() throws {
        let folder = try brokenCopy { _, map in
            map["model.visual.merger.ln_q.weight"] = "model-00001-of-00002.safetensors"
        }
        expectCheckpointError(
            folder, ["places tensor model.visual.merger.ln_q.weight in model-00001-of-00002.safetensors"])
    }

    @Test func tensorStoredInTwoShards() throws {
        let folder = try brokenCopy { folder, map in
            let extra = folder.appendingPathComponent("model-extra.safetensors")
            try SafeTensorWriter.write(
                [
                    .init(
                        name: "model.language_model.norm.weight", dtype: .f32, shape: [32],
                        values: Array(repeating: 1, count: 32))
                ], to: extra)
            map["model.language_model.norm.weight"] = "model-extra.safetensors"
            map["model.visual.merger.ln_q.weight"] = "model-00002-of-00002.safetensors"
        }
        expectCheckpointError(
            folder,
            [
                "tensor model.language_model.norm.weight is stored in several shards",
                "model-00001-of-00002.safetensors", "model-extra.safetensors",
            ])
    }

    @Test func tensorInShardButNotInIndex() throws {
        let folder = try brokenCopy { _, map in map["model.language_model.norm.weight"] = nil }
        expectCheckpointError(
            folder,
            [
                "shard model-00001-of-00002.safetensors contains tensor model.language_model.norm.weight",
                "does not list",
            ])
    }

    @Test func shardNameEscapingTheFolder() throws {
        let folder = try brokenCopy { _, map in
            map["model.language_model.norm.weight"] = "../model-00001-of-00002.safetensors"
        }
        expectCheckpointError(folder, ["names shard \"../model-00001-of-00002.safetensors\"", "not a plain file name"])
    }

    @Test func indexNotJSON() throws {
        let folder = try brokenCopy { _, _ in }
        try Data("{\"weight_map\": ".utf8).write(to: folder.appendingPathComponent(ShardIndex.fileName))
        expectCheckpointError(folder, ["the index", "is invalid", "not valid JSON"])
    }

    @Test func indexWithoutWeightMap() throws {
        let folder = try brokenCopy { _, _ in }
        try Data("{\"metadata\": {}}".utf8).write(to: folder.appendingPathComponent(ShardIndex.fileName))
        expectCheckpointError(folder, ["is invalid", "missing \"weight_map\""])
    }

    @Test func indexWithNonStringShard() throws {
        let folder = try brokenCopy { _, _ in }
        try Data("{\"weight_map\": {\"a\": 3}}".utf8).write(to: folder.appendingPathComponent(ShardIndex.fileName))
        expectCheckpointError(folder, ["is invalid", "weight_map.a has the wrong type"])
    }
}
