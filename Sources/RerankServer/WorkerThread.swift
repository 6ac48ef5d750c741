import Foundation

/// A dedicated thread that runs blocking jobs one at a time, in order.
///
/// Engine work (tokenizing, image preprocessing, forward passes) takes milliseconds to seconds of CPU;
/// running it here keeps the NIO event loops and the small Swift concurrency pool free to serve requests.
final class WorkerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs = [@Sendable () -> Void]()
    private var stopped = false

    /// Starts a thread named `name`.
    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs `body` on the thread and returns its result.
    /// - Throws: `ServerError.shuttingDown` once ``stop()`` was called, or what `body` throws.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = enqueue { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: ServerError.shuttingDown) }
        }
    }

    /// Lets the thread finish the jobs already queued, then end.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
