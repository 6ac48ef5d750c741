import Foundation
import Testing

@testable import TensorKit

@Suite("Rows on their way to the host")
struct PendingHostRowsTests {
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var counts = (finished: 0, abandoned: 0)
        func finish() { lock.withLock { counts.finished += 1 } }
        func abandon() { lock.withLock { counts.abandoned += 1 } }
        var finished: Int { lock.withLock { counts.finished } }
        var abandoned: Int { lock.withLock { counts.abandoned } }
    }

    @Test("waiting finishes the copy once; later waits return the same rows; nothing is abandoned")
    func waitOnce() throws {
        let counter = Counter()
        let rows = try HostRows(dtype: .bf16, bytes: [1, 2, 3, 4])
        do {
            let pending = PendingHostRows(
                finish: {
                    counter.finish()
                    return rows
                }, abandon: counter.abandon)
            #expect(try pending.wait().bytes == [1, 2, 3, 4])
            #expect(try pending.wait().bytes == [1, 2, 3, 4])
        }
        #expect(counter.finished == 1)
        #expect(counter.abandoned == 0)
    }

    @Test("a copy no one waited for is abandoned when the last reference goes")
    func abandonUnread() {
        let counter = Counter()
        do {
            _ = PendingHostRows(
                finish: {
                    counter.finish()
                    return try HostRows(dtype: .bf16, bytes: [])
                }, abandon: counter.abandon)
        }
        #expect(counter.finished == 0)
        #expect(counter.abandoned == 1)
    }

    @Test("a failed copy throws the same error on every wait")
    func failure() {
        struct Lost: Error {}
        let pending = PendingHostRows(finish: { throw Lost() }, abandon: {})
        #expect(throws: Lost.self) { try pending.wait() }
        #expect(throws: Lost.self) { try pending.wait() }
    }

    @Test("the default download is done at once")
    func immediate() throws {
        let rows = try PendingHostRows(HostRows(dtype: .f32, bytes: [0, 0, 128, 63])).wait()
        #expect(rows.floats() == [1])
    }
}
