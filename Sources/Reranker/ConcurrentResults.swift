import Dispatch
import Foundation

/// `body(0..<count)` on all cores, each outcome kept in its own slot: a failing index does not stop the others,
/// and the caller decides which error counts (usually the first in order).
public func concurrentResults<Value>(count: Int, _ body: @Sendable (Int) throws -> Value) -> [Result<Value, any Error>]
{
    let slots = ResultSlots<Value>(count: count)
    DispatchQueue.concurrentPerform(iterations: count) { index in slots.set(index, Result { try body(index) }) }
    return slots.values
}

/// Slots that concurrent workers fill, each index written once.
private final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Result<Value, any Error>?]
    private let lock = NSLock()  // guards `slots`

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Value, any Error>) { lock.withLock { slots[index] = value } }

    /// Every slot's result (read after all workers have finished; every slot is set by then).
    var values: [Result<Value, any Error>] {
        lock.withLock { slots.map { $0 ?? .failure(CancellationError()) } }
    }
}
