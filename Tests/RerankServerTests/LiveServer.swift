import Foundation
import Hummingbird
import NIOCore
import Reranker

@testable import RerankServer

/// Runs the real server (the same child channel and pipeline as `serve`) on 127.0.0.1 and a free port
/// over the tiny model, calls `test` with the port, then stops the server.
func withLiveServer<Value: Sendable>(
    configuration: ServerConfiguration = ServerConfiguration(),
    _ test: @escaping @Sendable (Int) async throws -> Value
) async throws -> Value {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let (application, parts) = try buildApplication(
        engine: try TinyModel.engine(), configuration: configuration,
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        })
    return try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask {
            try await application.run()
            return nil
        }
        group.addTask {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw LiveServerError.noPort }
            for _ in 0..<500 where !(await parts.scheduler.isReady) { try await Task.sleep(for: .milliseconds(5)) }
            return try await test(port)
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let value = result { return value }
        }
        throw LiveServerError.stoppedEarly
    }
}

enum LiveServerError: Error {
    case noPort
    case stoppedEarly
}
