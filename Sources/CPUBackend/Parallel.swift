import Dispatch
import Synchronization

/// Splits work over a fixed number of threads with `DispatchQueue.concurrentPerform`.
///
/// OpenBLAS is kept single-threaded (see ``CPUBackend``): all parallelism comes from here, so BLAS
/// threads and Dispatch threads never compete for the same cores.
struct Parallel: Sendable {
    /// Threads to use at most.
    let threads: Int

    /// Calls `body` on disjoint chunks covering `0..<count`, each at least `minChunk` long (except the
    /// last), in parallel when there is enough work. Small jobs run on the calling thread.
    func forEachChunk(of count: Int, minChunk: Int, _ body: @escaping (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads * 4, (count + max(minChunk, 1) - 1) / max(minChunk, 1))
        if chunks <= 1 || threads <= 1 {
            body(0..<count)
            return
        }
        let size = (count + chunks - 1) / chunks
        let work = Unchecked(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * size
            let end = min(start + size, count)
            if start < end { work.value(start..<end) }
        }
    }

    /// Runs `items` work items on up to `threads` workers that take the next item as they free up.
    /// Each worker owns a scratch buffer of `scratchFloats` floats, passed to every item it runs.
    func forEachItem(
        count items: Int, scratchFloats: Int, _ body: @escaping (Int, UnsafeMutablePointer<Float>) -> Void
    ) {
        guard items > 0 else { return }
        let workers = min(threads, items)
        if workers <= 1 {
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchFloats, 1))
            defer { scratch.deallocate() }
            for item in 0..<items { body(item, scratch) }
            return
        }
        let next = WorkCounter()
        let work = Unchecked(body)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchFloats, 1))
            defer { scratch.deallocate() }
            while true {
                let item = next.take()
                if item >= items { break }
                work.value(item, scratch)
            }
        }
    }
}

/// Carries closures into `concurrentPerform`, which wants `@Sendable` ones. (The closures are marked
/// `@escaping` only because Dispatch may release its copy of them just after returning.)
///
/// Sound here because `concurrentPerform` returns only after every iteration has finished, and each
/// caller's closures touch disjoint parts of their output (or only read shared inputs).
private struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Hands out item numbers 0, 1, 2, ... to workers, each number once.
private final class WorkCounter: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}
