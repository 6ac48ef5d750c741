import CPUBackend
import Foundation
import Reranker
import TestSupport
import Testing

@testable import ModelHub

@Suite("Tokens, mirrors, offline mode, ModelScope and the resolver")
struct HubAccessTests {
    @Test("HF_TOKEN goes to the hub as a Bearer token, never to the CDN host after a redirect")
    func tokenHeader() async throws {
        let repo = try FakeRepository.tinyCheckpoint(requiredToken: "hf_secret")
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let error = await hubError {
            _ = try await HuggingFaceHub(environment: hub.environment()).download(try ModelID("test-org/tiny"))
        }
        #expect(error?.description.contains("HTTP 401") == true)
        #expect(error?.description.contains("set HF_TOKEN") == true)

        _ = try await HuggingFaceHub(environment: hub.environment(["HF_TOKEN": "hf_secret"]))
            .download(try ModelID("test-org/tiny"))
        let hubRequests = hub.server.requests(containing: "/test-org/tiny/").filter { $0.authorization != nil }
        #expect(hubRequests.allSatisfy { $0.authorization == "Bearer hf_secret" })
        #expect(hubRequests.contains { $0.method == "HEAD" })
        let cdn = hub.server.requests(containing: "/cdn/")
        #expect(!cdn.isEmpty)
        #expect(cdn.allSatisfy { $0.authorization == nil })
    }

    @Test("the token file under HF_HOME is read when HF_TOKEN is not set")
    func tokenFile() throws {
        let home = try Fixtures.temporaryDirectory("hf-home")
        defer { try? FileManager.default.removeItem(at: home) }
        try Data("hf_from_file\n".utf8).write(to: home.appendingPathComponent("token"))
        let environment = HubEnvironment(values: ["HOME": "/nowhere", "HF_HOME": home.path])
        #expect(environment.huggingFaceToken == "hf_from_file")
        #expect(environment.huggingFaceCache.path == home.appendingPathComponent("hub").path)
    }

    @Test("HF_ENDPOINT points every request at a mirror, path prefix included")
    func mirrorEndpoint() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo], prefix: "/hf-mirror")
        defer { Task { await hub.stop() } }
        #expect(hub.environment().huggingFaceEndpoint.absoluteString.hasSuffix("/hf-mirror"))
        let snapshot = try await HuggingFaceHub(
            environment: hub.environment(["HF_ENDPOINT": hub.server.endpoint + "/"])
        )
        .download(try ModelID("test-org/tiny"))
        #expect(ModelFileSelection.isComplete(directory: snapshot))
        let requests = hub.server.requests.withLockedValue { $0 }
        #expect(requests.allSatisfy { $0.uri.hasPrefix("/hf-mirror/") || $0.uri.hasPrefix("/cdn/") })
        #expect(requests.contains { $0.uri == "/hf-mirror/api/models/test-org/tiny/revision/main" })
    }

    @Test("offline: the cache answers, and a missing model gets a clear message")
    func offline() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let offline = hub.environment(["HF_HUB_OFFLINE": "1"])
        let error = await hubError { _ = try await resolveModel("test-org/tiny", environment: offline) }
        #expect(error?.description.contains("HF_HUB_OFFLINE is set") == true)
        #expect(error?.description.contains("'test-org/tiny' is not completely in the cache") == true)
        #expect(hub.server.requests.withLockedValue { $0 }.isEmpty)

        let downloaded = try await resolveModel("test-org/tiny", environment: hub.environment())
        let before = hub.server.requests.withLockedValue { $0.count }
        #expect(try await resolveModel("test-org/tiny", environment: offline).path == downloaded.path)
        // Online, a complete cached snapshot is also used without asking the hub.
        #expect(try await resolveModel("test-org/tiny", environment: hub.environment()).path == downloaded.path)
        #expect(hub.server.requests.withLockedValue { $0.count } == before)
    }

    @Test("ModelScope: listing, download into its cache with sha256 checks and resume")
    func modelScope() async throws {
        let repo = try FakeRepository.tinyCheckpoint(id: "test-org/tiny-v1.5")
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let shard = "model-00001-of-00002.safetensors"
        hub.server.misbehaviour.withLockedValue {
            $0.dropAfter[shard] = (50_000, 1)
            $0.corrupt["tokenizer.json"] = 1
        }
        let folder = try await resolveModel("test-org/tiny-v1.5", source: .modelScope, environment: hub.environment())
        #expect(folder.path == hub.modelScopeCache.appendingPathComponent("models/test-org/tiny-v1___5").path)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == HuggingFaceDownloadTests.neededFiles)
        for name in names { #expect(try Data(contentsOf: folder.appendingPathComponent(name)) == repo.files[name]) }
        #expect(
            hub.server.requests(
                containing: "/api/v1/models/test-org/tiny-v1.5/repo/files?Revision=master&Recursive=True"
            ).count == 1)
        #expect(hub.server.requests(containing: "FilePath=\(shard)").compactMap(\.range).count == 1)
        #expect(hub.server.requests(containing: "FilePath=tokenizer.json").count == 2)
        #expect(hub.server.requests(containing: "FilePath=pytorch_model.bin").isEmpty)
    }

    @Test("the resolver takes directories as they are and explains bad arguments")
    func resolverArguments() async throws {
        let environment = HubEnvironment(values: ["HOME": "/nonexistent", "HF_HUB_OFFLINE": "1"])
        #expect(try await resolveModel(fixtureCheckpoint.path, environment: environment).path == fixtureCheckpoint.path)
        let missing = await hubError { _ = try await resolveModel("/no/such/model", environment: environment) }
        #expect(missing == .modelDirectoryNotFound("/no/such/model"))
        #expect(missing?.description.hasPrefix("no such folder: /no/such/model") == true)
        for bad in ["org/../x", "org/name/extra/", "a b/c", "-org/name", "org--x/name", ""] {
            let error = await hubError { _ = try await resolveModel(bad, environment: environment) }
            #expect(error != nil, "\(bad)")
        }
        let invalid = await hubError { _ = try await resolveModel("bad id/x", environment: environment) }
        #expect(invalid?.description.contains("neither an existing model directory nor a model id") == true)
    }

    @Test("a server listing a path outside the repository is refused")
    func unsafeListing() async throws {
        var repo = try FakeRepository.tinyCheckpoint()
        repo.files["../../escape.json"] = Data("{}".utf8)
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let error = await hubError {
            _ = try await HuggingFaceHub(environment: hub.environment()).download(try ModelID("test-org/tiny"))
        }
        #expect(error == .unsafeFileName("../../escape.json"))
        #expect(error?.description.contains("outside the model folder") == true)
    }

    @Test("a repository without safetensors weights is explained")
    func noWeights() async throws {
        var repo = try FakeRepository.tinyCheckpoint()
        repo.files = repo.files.filter { !$0.key.hasSuffix(".safetensors") }
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let error = await hubError { _ = try await resolveModel("test-org/tiny", environment: hub.environment()) }
        #expect(error?.description.contains("has no safetensors weights") == true)
        let unknown = await hubError { _ = try await resolveModel("test-org/missing", environment: hub.environment()) }
        #expect(unknown?.description.contains("HTTP 404") == true)
        #expect(unknown?.description.contains("RepoNotFound") == true)
    }

    @Test("end to end: download the tiny checkpoint by id, load it and score a pair")
    func endToEnd() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        var environment = hub.environment()
        // tools/check_hf_cache_compat.py sets this to keep the cache for huggingface_hub to read.
        if let keep = ProcessInfo.processInfo.environment["LYCHEE_KEEP_HF_CACHE"] {
            environment.huggingFaceCache = URL(fileURLWithPath: keep)
        }
        let directory = try await resolveModel("test-org/tiny", environment: environment)
        let downloaded = try Reranker.load(modelDirectory: directory, backend: CPUBackend())
        let original = try Reranker.load(modelDirectory: fixtureCheckpoint, backend: CPUBackend())
        let query = RerankItem(text: "what is a reranker?")
        let documents = [RerankItem(text: "A reranker scores documents against a query.")]
        let scored = try downloaded.score(query: query, documents: documents)
        let expected = try original.score(query: query, documents: documents)
        #expect(scored.count == 1)
        #expect(scored.first?.score == expected.first?.score)
        #expect((0...1).contains(scored.first?.score ?? -1))
    }
}
