import Foundation
import NIOConcurrencyHelpers
import TestSupport

@testable import ModelHub

let fixtureCheckpoint = Fixtures.url("checkpoints/tiny-untied-legacy")

/// A started fake hub and a fresh cache folder; `stop()` when done.
struct HubFixture {
    let server: FakeHubServer
    let folder: URL

    static func start(_ repositories: [FakeRepository], prefix: String = "") async throws -> HubFixture {
        let server = FakeHubServer(repositories: repositories, prefix: prefix)
        try await server.start()
        return HubFixture(server: server, folder: try Fixtures.temporaryDirectory("modelhub"))
    }

    var hfCache: URL { folder.appendingPathComponent("hf-cache") }
    var modelScopeCache: URL { folder.appendingPathComponent("ms-cache") }

    /// The variables a user would set to point the clients at this server and cache.
    func environment(_ extra: [String: String] = [:]) -> HubEnvironment {
        var values = [
            "HOME": folder.path, "HF_HUB_CACHE": hfCache.path, "HF_ENDPOINT": server.endpoint,
            "MODELSCOPE_DOMAIN": server.modelScopeEndpoint, "MODELSCOPE_CACHE": modelScopeCache.path,
        ]
        values.merge(extra) { $1 }
        return HubEnvironment(values: values)
    }

    func stop() async {
        await server.stop()
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Records progress notes so tests can check what the user was told.
final class RecordingProgress: DownloadProgressReporting {
    let notes = NIOLockedValueBox<[String]>([])
    let bytes = NIOLockedValueBox<Int64>(0)
    func planned(files: Int, totalBytes: Int64, presentBytes: Int64) {}
    func received(bytes count: Int) { bytes.withLockedValue { $0 += Int64(count) } }
    func discarded(bytes count: Int64) {}
    func finished(file: String) {}
    func note(_ message: String) { notes.withLockedValue { $0.append(message) } }
    func completed() {}
}

/// The first error `body` throws, as a ModelHubError.
func hubError(_ body: () async throws -> Void) async -> ModelHubError? {
    do {
        try await body()
        return nil
    } catch let error as ModelHubError {
        return error
    } catch {
        return nil
    }
}
