import Foundation

/// Remembers the ids of short words already encoded, shared by all threads using one `Tokenizer`.
///
/// Only words of at most 16 bytes are kept (their bytes packed into the key, so a lookup allocates nothing),
/// and at most `capacity` of them: once full, no new words are added (like `tokenizers`' cache).
final class WordCache: @unchecked Sendable {
    /// A word of up to 16 bytes, packed.
    struct Key: Hashable {
        var low: UInt64
        var high: UInt64
        var count: Int

        init?(_ word: UnsafeBufferPointer<UInt8>) {
            guard word.count <= 16 else { return nil }
            var low: UInt64 = 0
            var high: UInt64 = 0
            for (index, byte) in word.enumerated() {
                if index < 8 {
                    low |= UInt64(byte) << (8 * UInt64(index))
                } else {
                    high |= UInt64(byte) << (8 * UInt64(index - 8))
                }
            }
            (self.low, self.high, self.count) = (low, high, word.count)
        }
    }

    let capacity: Int
    private let lock = NSLock()  // guards `storage`
    private var storage: [Key: [Int32]] = [:]

    init(capacity: Int) {
        self.capacity = capacity
    }

    func lookup(_ key: Key) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return storage[key]
    }

    func insert(_ ids: [Int32], for key: Key) {
        lock.lock()
        defer { lock.unlock() }
        if storage.count < capacity { storage[key] = ids }
    }
}
