import Foundation

/// Rows on their way to the host (``Backend/downloadRowsLater(_:)``): ``wait()`` returns them once the copy has
/// finished. A download that is never waited for is abandoned when the last reference goes (its copy is waited
/// for then, and its host memory given back).
///
/// Thread-safe.
public final class PendingHostRows: @unchecked Sendable {
    private enum State {
        /// The copy is in flight: `finish` waits for it; `abandon` releases what it holds when no one waited.
        case copying(finish: () throws -> HostRows, abandon: () -> Void)
        case done(Result<HostRows, any Error>)
    }

    private let lock = NSLock()
    private var state: State  // guarded by `lock`

    /// Rows already on the host.
    public init(_ rows: HostRows) { state = .done(.success(rows)) }

    /// A copy in flight: `finish` waits for it and returns the rows (called once, by the first ``wait()``);
    /// `abandon` releases what the copy holds when no one waited.
    public init(finish: @escaping () throws -> HostRows, abandon: @escaping () -> Void) {
        state = .copying(finish: finish, abandon: abandon)
    }

    deinit {
        if case .copying(_, let abandon) = state { abandon() }
    }

    /// The rows, waiting for the copy the first time; later calls return the same rows (or the same error).
    public func wait() throws -> HostRows {
        try lock.withLock {
            switch state {
            case .done(let outcome):
                return try outcome.get()
            case .copying(let finish, _):
                let outcome = Result { try finish() }
                state = .done(outcome)
                return try outcome.get()
            }
        }
    }
}
