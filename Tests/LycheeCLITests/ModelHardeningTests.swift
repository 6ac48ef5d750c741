import Foundation
import Reranker
import TestSupport
import Testing

@testable import LycheeCLI

/// The command line never turns a broken model into a quiet success, and says what it does with the files.
@Suite("CLI: broken models, non-finite scores and --no-mmap")
struct ModelHardeningTests {
    /// A copy of the tiny fixture whose final norm is all NaN.
    static func nanModel() throws -> URL {
        let folder = try CheckpointSurgery.copyFixture()
        try CheckpointSurgery.rewrite("model.norm.weight", in: folder) { $0.map { _ in .nan } }
        return folder
    }

    @Test("rerank --json with NaN weights exits non-zero with a message, printing no results")
    func rerankNaNWeights() throws {
        let folder = try Self.nanModel()
        let run = try CommandLineRun.run([
            "rerank", "--model", folder.path, "--backend", "cpu", "--json", "--query", "capital of France",
            "--document", "Paris", "--document", "Bananas",
        ])
        #expect(!run.timedOut)
        #expect(run.status != 0)
        #expect(!run.standardOutput.contains("results"), "\(run.standardOutput)")
        #expect(run.standardError.contains("model.norm.weight"), "\(run.standardError)")
    }

    @Test("serve with NaN weights fails before it binds its port")
    func serveNaNWeights() throws {
        let folder = try Self.nanModel()
        let run = try CommandLineRun.run(
            ["serve", "--model", folder.path, "--backend", "cpu", "--host", "127.0.0.1", "--port", "0"], seconds: 30)
        #expect(!run.timedOut, "serve kept running with a NaN model")
        #expect(run.status != 0)
        #expect(run.standardError.contains("NaN or infinite"), "\(run.standardError)")
        #expect(!run.standardError.contains("serving"))
    }

    @Test("a non-finite score is an error in both output formats, never an empty result list")
    func nonFiniteScore() {
        let good = RerankResult(index: 0, score: 0.7, logit: 0.85, tokens: 10, truncated: false)
        let bad = RerankResult(index: 3, score: .nan, logit: .nan, tokens: 10, truncated: false)
        #expect(throws: RerankerError.self) { try RerankOutput.json([good, bad]) }
        #expect(throws: RerankerError.self) { try RerankOutput.requireFinite([good, bad]) }
        let infinite = RerankResult(index: 1, score: 1, logit: .infinity, tokens: 10, truncated: false)
        #expect(throws: RerankerError.self) { try RerankOutput.requireFinite([infinite]) }
        #expect(throws: Never.self) { try RerankOutput.json([good]) }
        #expect((try? RerankOutput.json([good]))?.hasPrefix("{\"results\":[{") == true)
    }

    @Test("serve --help says the weights are mapped and offers --no-mmap; rerank and bench take it too")
    func noMmapFlag() throws {
        let serve = try CommandLineRun.run(["serve", "--help"])
        #expect(serve.status == 0)
        #expect(serve.standardOutput.contains("--no-mmap"))
        #expect(serve.standardOutput.contains("memory-mapped"))
        for command in ["rerank", "bench"] {
            #expect(try CommandLineRun.run([command, "--help"]).standardOutput.contains("--no-mmap"), "\(command)")
        }
    }

    @Test("rerank --no-mmap scores like the mapped default")
    func noMmapScores() throws {
        let model = Fixtures.url("checkpoints/tiny-untied-legacy").path
        let arguments = [
            "rerank", "--model", model, "--backend", "cpu", "--json", "--query", "capital", "--document", "Paris",
        ]
        let mapped = try CommandLineRun.run(arguments)
        let read = try CommandLineRun.run(arguments + ["--no-mmap"])
        #expect(mapped.status == 0 && read.status == 0, "\(mapped.standardError)\(read.standardError)")
        #expect(read.standardOutput == mapped.standardOutput)
        #expect(read.standardOutput.contains("\"score\""))
    }

    @Test("inspect on a folder whose shard is a FIFO reports it and exits 1 at once")
    func inspectFIFOShard() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let shard = folder.appendingPathComponent("model-00002-of-00002.safetensors")
        try FileManager.default.removeItem(at: shard)
        try NamedPipe.make(at: shard)
        let run = try CommandLineRun.run(["inspect", "--model", folder.path], seconds: 20)
        #expect(!run.timedOut, "inspect blocked on the FIFO shard")
        #expect(run.status == 1)
        #expect(run.standardOutput.contains("FIFO (named pipe), not a regular file"), "\(run.standardOutput)")
    }

    @Test("a mistyped relative --model is 'no such folder' at once, with the folder it probably meant")
    func mistypedModel() throws {
        let run = try CommandLineRun.run(
            ["inspect", "--model", Fixtures.root.path + "/Fixtures/tiny-untied-legacy"],
            environment: ["HF_ENDPOINT": "http://127.0.0.1:1"], seconds: 20)
        #expect(run.status != 0)
        #expect(run.standardError.contains("no such folder"), "\(run.standardError)")
        #expect(run.standardError.contains("Fixtures/checkpoints/tiny-untied-legacy"))
    }
}
