import Foundation

/// Rows on their way to the host (``Backend/downloadRowsLater(_:)``): ``wait()`` returns them once the copy has
/// finished. A download that is never waited for is abandoned when the last reference goes (its copy is waited
/// for then, and its host memory given back).
///
/// Thread-safe.
public final class PendingHostRows: @unchecked Sendable {
    private let lock = NSLock()
    private var finish: (() throws -> HostRows)?  // guarded by `lock`; nil once finished
    private var abandon: (() -> Void)?  // guarded by `lock`; nil once finished
    private var outcome: Result<HostRows, any Error>?  // guarded by `lock`

    /// Rows already on the host.
    public init(_ rows: HostRows) {
        outcome = .success(rows)
        abandon = nil
    }

    /// A copy in flight: `finish` waits for it and returns the rows (called once, by the first ``wait()``);
    /// `abandon` releases what the copy holds when no one waited.
    public init(finish: @escaping () throws -> HostRows, abandon: @escaping () -> Void) {
        self.finish = finish
        self.abandon = abandon
    }

    deinit {
        abandon?()
    }

    /// The rows, waiting for the copy the first time; later calls return the same rows (or the same error).
    public func wait() throws -> HostRows {
        try lock.withLock {
            if let outcome { return try outcome.get() }
            let result = Result { try finish?() ?? HostRows(dtype: .f32, bytes: []) }
            finish = nil
            abandon = nil
            outcome = result
            return try result.get()
        }
    }
}
