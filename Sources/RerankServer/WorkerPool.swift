import Foundation

/// A fixed set of threads that run blocking jobs from one queue, first come first served.
///
/// Host preparation of requests (tokenizing, decoding and resizing images) runs here, off the event loops
/// and the small Swift concurrency pool, so that one request's images never hold up another request's
/// preparation as long as a thread is free.
final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs = [@Sendable () -> Void]()
    private var jobHead = 0
    private var stopped = false
    /// Number of threads.
    let size: Int

    /// Starts `size` threads (at least one) named `name-N`.
    init(name: String, size: Int) {
        self.size = max(1, size)
        for index in 0..<self.size {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body` on a pool thread and returns its result.
    /// - Throws: `ServerError.shuttingDown` once ``stop()`` was called, or what `body` throws.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let accepted = enqueue { continuation.resume(with: Result { try body() }) }
            if !accepted { continuation.resume(throwing: ServerError.shuttingDown) }
        }
    }

    /// Queues `body` to run on a pool thread, without waiting for it.
    /// - Returns: false once ``stop()`` was called (then `body` never runs).
    @discardableResult
    func submit(_ body: @escaping @Sendable () -> Void) -> Bool { enqueue(body) }

    /// Lets the threads finish the jobs already queued, then end.
    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
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
            while jobHead == jobs.count && !stopped { condition.wait() }
            if jobHead == jobs.count && stopped {
                condition.unlock()
                return
            }
            let job = jobs[jobHead]
            jobHead += 1
            // Drop finished jobs (and what they captured) as soon as the queue is drained.
            if jobHead == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                jobHead = 0
            }
            condition.unlock()
            job()
        }
    }
}
