import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// FIFOs (named pipes) standing in for model files, and a time limit for code that might block opening one.
public enum NamedPipe {
    /// Creates a FIFO at `url`.
    public static func make(at url: URL) throws {
        guard mkfifo(url.path, 0o644) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }

    /// Runs `body` on its own thread and returns its result, or nil when it has not returned within `seconds`
    /// (it blocked on the FIFO at `fifo`): a writer then opens and closes the FIFO once so that a reader stuck
    /// in `open` wakes up, and the test can fail instead of hanging.
    public static func withTimeLimit<T: Sendable>(
        _ seconds: Double, unblocking fifo: URL, _ body: @escaping @Sendable () -> T
    ) -> T? {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.set(body())
            done.signal()
        }
        thread.start()
        if done.wait(timeout: .now() + seconds) == .success { return box.get() }
        for _ in 0..<50 {
            let writer = open(fifo.path, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            if done.wait(timeout: .now() + 0.1) == .success { break }
        }
        return nil
    }
}

/// A value handed from one thread to another.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?
    func set(_ newValue: T) { lock.withLock { value = newValue } }
    func get() -> T? { lock.withLock { value } }
}
