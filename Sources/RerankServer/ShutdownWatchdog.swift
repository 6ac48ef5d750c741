import Foundation
import Logging
import UnixSignals

/// Bounds a graceful shutdown. ServiceLifecycle starts the shutdown on the first SIGTERM or SIGINT and
/// waits for every connection to finish, which a client that sent half a body could make last forever.
/// The watchdog, beside it:
/// - on the first signal, gives in-flight requests `timeout`; then closes every connection still open,
///   and if the process has still not stopped `grace` later, exits with status 1;
/// - on a second signal, exits at once (status 128 + the signal's number, as a shell reports it).
public struct ShutdownWatchdog: Sendable {
    /// How long in-flight requests get after the first signal.
    public var timeout: Duration
    /// How long the process gets to stop after the connections were closed.
    public var grace: Duration = .seconds(5)
    let connections: ConnectionRegistry
    let logger: Logger

    /// A watchdog over `connections`.
    public init(timeout: Duration, connections: ConnectionRegistry, logger: Logger) {
        self.timeout = timeout
        self.connections = connections
        self.logger = logger
    }

    /// Watches SIGTERM and SIGINT until the process ends; cancel the task to stop watching.
    public func start() -> Task<Void, Never> {
        let watchdog = self
        return Task.detached {
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            var deadline: Task<Void, Never>?
            for await signal in signals {
                if deadline == nil {
                    watchdog.logger.notice(
                        "shutting down: finishing requests in flight",
                        metadata: [
                            "signal": "\(signal)", "timeout_s": "\(watchdog.timeout.components.seconds)",
                            "hint": "send the signal again to exit at once",
                        ])
                    deadline = Task { await watchdog.enforceDeadline() }
                } else {
                    watchdog.logger.warning("second signal: exiting at once", metadata: ["signal": "\(signal)"])
                    exit(128 + signal.rawValue)
                }
            }
            deadline?.cancel()
        }
    }

    private func enforceDeadline() async {
        do { try await Task.sleep(for: timeout) } catch { return }
        let closed = connections.closeAll()
        logger.warning(
            "shutdown timeout: closed the connections still open",
            metadata: ["connections": "\(closed)", "timeout_s": "\(timeout.components.seconds)"])
        do { try await Task.sleep(for: grace) } catch { return }
        logger.error("the server did not stop after its connections were closed: exiting")
        exit(1)
    }
}
