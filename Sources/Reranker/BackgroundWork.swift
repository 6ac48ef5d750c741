import Dispatch
import Foundation

/// A throwing computation started on a background thread at once; ``result()`` waits for it.
final class BackgroundWork<Value: Sendable>: @unchecked Sendable {
    private let finished = DispatchGroup()
    private let lock = NSLock()  // guards `outcome`
    private var outcome: Result<Value, any Error> = .failure(CancellationError())

    init(_ work: @escaping @Sendable () throws -> Value) {
        finished.enter()
        DispatchQueue.global(qos: .userInitiated).async {
            let result = Result { try work() }
            self.lock.withLock { self.outcome = result }
            self.finished.leave()
        }
    }

    /// The value, or the error the work threw; waits until the work has finished. May be called again.
    func result() throws -> Value {
        finished.wait()
        return try lock.withLock { outcome }.get()
    }
}
