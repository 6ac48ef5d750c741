import Foundation
import Testing

@testable import ModelHub

@Suite("Hugging Face Hub downloads against a local hub")
struct HuggingFaceDownloadTests {
    static let neededFiles = [
        "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json", "preprocessor_config.json", "tokenizer.json",
    ]

    @Test("the API lists every file and the commit")
    func listing() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let listing = try await HuggingFaceHub(environment: hub.environment()).listFiles(try ModelID("test-org/tiny"))
        #expect(listing.commit == repo.commit)
        #expect(Set(listing.files) == Set(repo.files.keys))
        #expect(hub.server.requests(containing: "/api/models/test-org/tiny/revision/main").count == 1)
    }

    @Test("only the engine's files land in the standard cache layout, symlinked to blobs")
    func cacheLayout() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let snapshot = try await HuggingFaceHub(environment: hub.environment()).download(try ModelID("test-org/tiny"))
        let repoFolder = hub.hfCache.appendingPathComponent("models--test-org--tiny")
        #expect(snapshot.path == repoFolder.appendingPathComponent("snapshots/\(repo.commit)").path)
        let names = try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted()
        #expect(names == Self.neededFiles)
        for name in names {
            let target = try FileManager.default.destinationOfSymbolicLink(
                atPath: snapshot.appendingPathComponent(name).path)
            #expect(target == "../../blobs/\(repo.etag(name) ?? "?")")
            #expect(try Data(contentsOf: snapshot.appendingPathComponent(name)) == repo.files[name])
        }
        let ref = try String(contentsOf: repoFolder.appendingPathComponent("refs/main"), encoding: .utf8)
        #expect(ref == repo.commit)
        // Skipped files were never requested; LFS files came from the CDN host without a token.
        #expect(hub.server.requests(containing: "pytorch_model.bin").isEmpty)
        #expect(hub.server.requests(containing: "onnx").isEmpty)
        #expect(hub.server.requests(containing: "/cdn/").allSatisfy { $0.host.hasPrefix("localhost") })
        let blobs = try FileManager.default.contentsOfDirectory(atPath: repoFolder.appendingPathComponent("blobs").path)
        #expect(!blobs.contains { $0.hasSuffix(".incomplete") })
    }

    @Test("a dropped connection is resumed with a Range request")
    func resumeAfterDrop() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let shard = "model-00001-of-00002.safetensors"
        hub.server.misbehaviour.withLockedValue { $0.dropAfter[shard] = (100_000, 1) }
        let progress = RecordingProgress()
        let snapshot = try await HuggingFaceHub(environment: hub.environment())
            .download(try ModelID("test-org/tiny"), progress: progress)
        #expect(try Data(contentsOf: snapshot.appendingPathComponent(shard)) == repo.files[shard])
        let cdn = hub.server.requests(containing: "/cdn/\(repo.etag(shard) ?? "")")
        // The second request asks for the rest, from wherever the first one stopped (at most the bytes sent).
        #expect(cdn.count == 2 && cdn[0].range == nil)
        let resumedAt = cdn.last?.range.flatMap { Int($0.dropFirst("bytes=".count).dropLast()) } ?? 0
        #expect(resumedAt > 0 && resumedAt <= 100_000)
        #expect(progress.notes.withLockedValue { $0 }.contains { $0.contains("resuming at") })
    }

    @Test("an interrupted transfer leaves a partial file that the next run resumes")
    func interruptedThenResumed() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let shard = "model-00001-of-00002.safetensors"
        let etag = try #require(repo.etag(shard))
        hub.server.misbehaviour.withLockedValue { $0.dropAfter[shard] = (150_000, 1) }
        var client = HuggingFaceHub(environment: hub.environment())
        client.policy.resumeAttempts = 0
        let error = await hubError { _ = try await client.download(try ModelID("test-org/tiny")) }
        guard case .transport = error else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("partial files are kept and resumed") == true)
        let partial = hub.hfCache.appendingPathComponent("models--test-org--tiny/blobs/\(etag).incomplete")
        let kept = try fileSize(at: partial)
        #expect(kept > 0 && kept <= 150_000)

        let snapshot = try await client.download(try ModelID("test-org/tiny"))
        #expect(try Data(contentsOf: snapshot.appendingPathComponent(shard)) == repo.files[shard])
        #expect(hub.server.requests(containing: "/cdn/\(etag)").last?.range == "bytes=\(kept)-")
        #expect(!FileManager.default.fileExists(atPath: partial.path))
    }

    @Test("a corrupted download is fetched once more, then refused")
    func checksumMismatch() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let shard = "model-00002-of-00002.safetensors"
        let etag = try #require(repo.etag(shard))
        hub.server.misbehaviour.withLockedValue { $0.corrupt[shard] = 1 }
        let progress = RecordingProgress()
        let snapshot = try await HuggingFaceHub(environment: hub.environment())
            .download(try ModelID("test-org/tiny"), progress: progress)
        #expect(try Data(contentsOf: snapshot.appendingPathComponent(shard)) == repo.files[shard])
        #expect(progress.notes.withLockedValue { $0 }.contains { $0.contains("checksum mismatch") })

        let second = try await HubFixture.start([repo])
        defer { Task { await second.stop() } }
        second.server.misbehaviour.withLockedValue { $0.corrupt[shard] = 5 }
        let error = await hubError {
            _ = try await HuggingFaceHub(environment: second.environment()).download(try ModelID("test-org/tiny"))
        }
        guard case .checksumMismatch(let file, let expected, _) = error else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(file == shard && expected == etag)
        #expect(error?.description.contains("checksum is still wrong") == true)
        let blobs = second.hfCache.appendingPathComponent("models--test-org--tiny/blobs")
        #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent(etag).path))
        #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent(etag + ".incomplete").path))
    }

    @Test("a truncated blob in the cache is detected and fetched again")
    func truncatedCacheEntry() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let client = HuggingFaceHub(environment: hub.environment())
        let snapshot = try await client.download(try ModelID("test-org/tiny"))
        let shard = "model-00002-of-00002.safetensors"
        let blob = hub.hfCache.appendingPathComponent("models--test-org--tiny/blobs/\(repo.etag(shard) ?? "")")
        let handle = try FileHandle(forWritingTo: blob)
        try handle.truncate(atOffset: 1000)
        try handle.close()
        let progress = RecordingProgress()
        _ = try await client.download(try ModelID("test-org/tiny"), progress: progress)
        #expect(try Data(contentsOf: snapshot.appendingPathComponent(shard)) == repo.files[shard])
        #expect(progress.notes.withLockedValue { $0 }.contains { $0.contains("corrupt or incomplete") })
    }

    @Test("a flipped byte in a cached blob is found by --verify")
    func verifyExisting() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let client = HuggingFaceHub(environment: hub.environment())
        let snapshot = try await client.download(try ModelID("test-org/tiny"))
        let blob = hub.hfCache.appendingPathComponent(
            "models--test-org--tiny/blobs/\(repo.etag("tokenizer.json") ?? "")")
        var bytes = try Data(contentsOf: blob)
        bytes[10] ^= 1
        try bytes.write(to: blob)
        _ = try await client.download(try ModelID("test-org/tiny"), verifyExisting: true)
        #expect(try Data(contentsOf: snapshot.appendingPathComponent("tokenizer.json")) == repo.files["tokenizer.json"])
    }
}
