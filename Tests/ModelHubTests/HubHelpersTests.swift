import Foundation
import TestSupport
import Testing

@testable import ModelHub

@Suite("ModelHub helpers")
struct HubHelpersTests {
    @Test("model ids", arguments: ["vec-ai/lychee-rerank-mm", "Qwen/Qwen2.5-VL-7B-Instruct", "org/name_1"])
    func validIDs(text: String) throws {
        #expect(try ModelID(text).description == text)
    }

    @Test(
        "bad model ids are refused with the value in the message",
        arguments: ["", "/", "a/b/c", "a/../b", "org/-x", "org/x.", "a--b/c", "a/b c", "ä/b", "org/"])
    func badIDs(text: String) {
        #expect(throws: ModelHubError.invalidModelID(text)) { try ModelID(text) }
    }

    @Test(
        "repository paths that would leave the folder are refused",
        arguments: ["../x", "a/../../x", "/etc/passwd", "a//b", "./x", "a\\b", "x\u{0}y", ""])
    func unsafePaths(path: String) {
        #expect(throws: ModelHubError.unsafeFileName(path)) { try validatedRepositoryPath(path) }
    }

    @Test("only the engine's files are selected")
    func selection() throws {
        let listing = [
            "config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.json", "preprocessor_config.json",
            "model.safetensors.index.json", "model-00001-of-00004.safetensors", "pytorch_model.bin", "model.onnx",
            "tf_model.h5", "README.md", "onnx/model.safetensors", "training_args.bin", "vocab.json",
        ]
        #expect(
            try ModelFileSelection.select(from: listing, model: "m") == [
                "chat_template.json", "config.json", "model-00001-of-00004.safetensors", "model.safetensors.index.json",
                "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
            ])
        #expect(throws: ModelHubError.noWeights(model: "m", files: ["config.json", "pytorch_model.bin"])) {
            try ModelFileSelection.select(from: ["pytorch_model.bin", "config.json"], model: "m")
        }
    }

    @Test("ETags and digests")
    func etags() {
        #expect(normalizeETag("W/\"abc\"") == "abc")
        #expect(normalizeETag("\"abc\"") == "abc")
        #expect(
            ExpectedDigest(hubETag: String(repeating: "a", count: 64)) == .sha256(String(repeating: "a", count: 64)))
        #expect(
            ExpectedDigest(hubETag: String(repeating: "b", count: 40))
                == .gitBlobSHA1(String(repeating: "b", count: 40)))
        #expect(ExpectedDigest(hubETag: "lfs-pointer") == nil)
        #expect(FileTransfer.rangeStart("bytes 100-199/200") == 100)
        #expect(FileTransfer.rangeStart("items 1-2/3") == nil)
    }

    @Test("the git blob id of a file matches git's")
    func gitBlobID() throws {
        let folder = try Fixtures.temporaryDirectory("digest")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("hello")
        try Data("hello\n".utf8).write(to: file)
        // `printf 'hello\n' | git hash-object --stdin`
        let expected = "ce013625030ba8dba906f756967f9e9ca394464a"
        #expect(try digestOfFile(at: file, like: .gitBlobSHA1(expected)) == expected)
    }

    @Test("cache locations follow huggingface_hub's and modelscope's variables")
    func environment() {
        let base = ["HOME": "/home/u"]
        #expect(HubEnvironment(values: base).huggingFaceCache.path == "/home/u/.cache/huggingface/hub")
        #expect(
            HubEnvironment(values: base.merging(["XDG_CACHE_HOME": "/x"]) { $1 }).huggingFaceCache.path
                == "/x/huggingface/hub")
        #expect(
            HubEnvironment(values: base.merging(["HF_HOME": "~/hf"]) { $1 }).huggingFaceCache.path == "/home/u/hf/hub")
        #expect(
            HubEnvironment(values: base.merging(["HF_HOME": "/a", "HF_HUB_CACHE": "/b"]) { $1 }).huggingFaceCache.path
                == "/b")
        #expect(HubEnvironment(values: base).huggingFaceEndpoint.absoluteString == "https://huggingface.co")
        #expect(
            HubEnvironment(values: base.merging(["HF_ENDPOINT": "https://hf-mirror.com/"]) { $1 })
                .huggingFaceEndpoint.absoluteString == "https://hf-mirror.com")
        #expect(HubEnvironment(values: base).modelScopeCache.path == "/home/u/.cache/modelscope/hub")
        #expect(HubEnvironment(values: base).modelScopeEndpoint.absoluteString == "https://www.modelscope.cn")
        for (value, offline) in [("1", true), ("yes", true), ("0", false), ("", false)] {
            #expect(HubEnvironment(values: base.merging(["HF_HUB_OFFLINE": value]) { $1 }).offline == offline)
        }
        #expect(
            HubEnvironment(values: base.merging(["TRANSFORMERS_OFFLINE": "1"]) { $1 }).offlineVariable
                == "TRANSFORMERS_OFFLINE")
    }

    @Test("progress lines show bytes, speed and time left")
    func progressLine() {
        let progress = ConsoleProgress(label: "m", isTerminal: false)
        var state = ConsoleProgress.State(
            files: 4, filesDone: 1, total: 2_000_000_000, done: 500_000_000, fresh: 400_000_000)
        state.start = Date(timeIntervalSince1970: 0)
        let line = progress.render(state, now: Date(timeIntervalSince1970: 10), width: 10)
        #expect(line == "[##........]  500.0 MB / 2.0 GB  40.0 MB/s  38s left  (1/4 files)")
        #expect(progress.render(state, now: Date(timeIntervalSince1970: 10), width: 0).hasPrefix("m: 25%"))
        #expect(formatDuration(7_380) == "2h 03m")
    }
}
