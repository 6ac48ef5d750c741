import Foundation

/// Runs a request's work under its deadline and its client's presence: when the request timeout passes or
/// the client disconnects, the work's task is cancelled (the scheduler then drops its pending pairs) and
/// the request ends with `ServerError.timedOut` or `.cancelled`.
///
/// - Parameters:
///   - timeoutSeconds: how long the work may take.
///   - isClientConnected: polled every 50 ms; nil when the connection cannot be watched.
func watched<T: Sendable>(
    timeoutSeconds: Double, isClientConnected: (@Sendable () -> Bool)?,
    _ work: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await work() }
        group.addTask {
            let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutSeconds * 1000))
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: min(.milliseconds(50), deadline - ContinuousClock.now))
                if let isClientConnected, !isClientConnected() { throw ServerError.cancelled }
            }
            throw ServerError.timedOut(seconds: timeoutSeconds)
        }
        defer { group.cancelAll() }
        while let outcome = try await group.next() {
            if let value = outcome { return value }
        }
        throw ServerError.cancelled
    }
}
