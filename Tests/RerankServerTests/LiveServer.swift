import Foundation
import Hummingbird
import Logging
import NIOCore
import Reranker
import ServiceLifecycle

@testable import RerankServer

/// Runs the real server (the same child channel and pipeline as `serve`) on 127.0.0.1 and a free port
/// over the tiny model, calls `test` with the port, then shuts the server down gracefully.
func withLiveServer<Value: Sendable>(
    configuration: ServerConfiguration = ServerConfiguration(),
    _ test: @escaping @Sendable (Int) async throws -> Value
) async throws -> Value {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let logger = Logger(label: "live-test")
    let (application, parts) = try buildApplication(
        engine: try TinyModel.engine(), configuration: configuration, logger: logger,
        onServerRunning: { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
            portContinuation.finish()
        })
    let services = ServiceGroup(configuration: .init(services: [application], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await services.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            await services.triggerGracefulShutdown()
            throw LiveServerError.noPort
        }
        for _ in 0..<500 where !(await parts.scheduler.isReady) { try await Task.sleep(for: .milliseconds(5)) }
        let result = await Result(catching: { try await test(port) })
        await services.triggerGracefulShutdown()
        try await group.waitForAll()
        return try result.get()
    }
}

enum LiveServerError: Error {
    case noPort
}

extension Result where Failure == any Error {
    /// The result of an async throwing call.
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
