import Foundation
import TestSupport
import Testing

@testable import ModelHub

/// Operators' paths: a mistyped folder is "no such folder" at once (no Hub lookup), a folder this user may not
/// read says so, and failures without network say how to serve a local folder or the bundled fixture.
@Suite("The --model argument: paths, permissions and offline hints")
struct ModelArgumentTests {
    /// An existing folder in the current directory (the package root under `swift test`).
    static func existingRelativeFolder() throws -> String {
        let here = FileManager.default.currentDirectoryPath
        let names = try FileManager.default.contentsOfDirectory(atPath: here).sorted()
        var isDirectory: ObjCBool = false
        let folder = names.first {
            !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: here + "/" + $0, isDirectory: &isDirectory)
                && isDirectory.boolValue && !$0.contains(" ")
        }
        return try #require(folder, "the current directory has no folder to test with")
    }

    @Test("a relative path under an existing folder is a missing folder, and the hub is never asked")
    func relativeMissingFolder() async throws {
        let repo = try FakeRepository.tinyCheckpoint()
        let hub = try await HubFixture.start([repo])
        defer { Task { await hub.stop() } }
        let argument = try Self.existingRelativeFolder() + "/no-such-model-folder"
        let error = await hubError { _ = try await resolveModel(argument, environment: hub.environment()) }
        #expect(error == .modelDirectoryNotFound(argument))
        #expect(error?.description.hasPrefix("no such folder: \(argument)") == true, "\(error.map { "\($0)" } ?? "")")
        #expect(hub.server.requests.withLockedValue { $0 }.isEmpty)
    }

    @Test(
        "which arguments can only be paths",
        arguments: [
            ("/abs/model", true), ("./model", true), ("../model", true), (".hidden/model", true), ("~/models/x", true),
            ("a/b/c", true), ("org/name/", true), ("vec-ai/lychee-rerank-mm", false), ("org/name", false),
        ])
    func pathLike(argument: String, expected: Bool) {
        #expect(ModelFolderArgument.looksLikePath(argument) == expected)
    }

    @Test("a mistyped fixture path suggests the folder it probably meant")
    func suggestion() async throws {
        let environment = HubEnvironment(values: ["HOME": "/nonexistent", "HF_HUB_OFFLINE": "1"])
        let mistyped = Fixtures.root.path + "/Fixtures/tiny-untied-legacy"
        let error = await hubError { _ = try await resolveModel(mistyped, environment: environment) }
        let expected = Fixtures.root.path + "/Fixtures/checkpoints/tiny-untied-legacy"
        #expect(error == .modelDirectoryNotFound(mistyped, suggestion: expected))
        #expect(error?.description.contains("did you mean \(expected)?") == true)
    }

    @Test("a folder this user may not read is permission denied, not a missing file")
    func permissionDenied() throws {
        let folder = try Fixtures.temporaryDirectory("unreadable-model")
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(chmod(folder.path, 0o000) == 0)
        defer { chmod(folder.path, 0o755) }
        let error = try UnprivilegedAccess.run { () -> ModelHubError? in
            do throws(ModelHubError) {
                try ModelFolderArgument.checkReadable(folder.path, argument: folder.path)
                return nil
            } catch {
                return error
            }
        }
        #expect(error == .permissionDenied(folder.path))
        #expect(error?.description.hasPrefix("permission denied") == true)
        #expect(throws: Never.self) { try ModelFolderArgument.checkReadable(Fixtures.root.path, argument: "root") }
    }

    @Test("offline, the default model's failure says how to serve a local folder or the fixture")
    func offlineHint() async throws {
        let cache = try Fixtures.temporaryDirectory("empty-hf-cache")
        let environment = HubEnvironment(values: [
            "HOME": cache.path, "HF_HUB_CACHE": cache.path, "HF_HUB_OFFLINE": "1",
        ])
        let error = await hubError { _ = try await resolveModel(defaultModelID, environment: environment) }
        let message = error?.description ?? ""
        #expect(message.contains("HF_HUB_OFFLINE is set"))
        #expect(message.contains("MODEL=Fixtures/checkpoints/tiny-untied-legacy make run"), "\(message)")
        #expect(message.contains("--model with a local model folder"))
    }

    @Test("a hub that cannot be reached gets the same hint")
    func unreachableHint() async throws {
        let cache = try Fixtures.temporaryDirectory("empty-hf-cache")
        let environment = HubEnvironment(values: [
            "HOME": cache.path, "HF_HUB_CACHE": cache.path, "HF_ENDPOINT": "http://127.0.0.1:1",
        ])
        let error = await hubError { _ = try await resolveModel(defaultModelID, environment: environment) }
        guard case .unreachable(.transport) = error else {
            Issue.record("expected a transport failure with a hint, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("MODEL=Fixtures/checkpoints/tiny-untied-legacy make run") == true)
    }
}
