import Foundation

/// Remembers the ids of short words already encoded, shared by all threads using one `Tokenizer`.
///
/// Only words of at most 16 bytes are kept (their bytes packed into the key, so a lookup allocates nothing),
/// and about `capacity` of them (an equal share per shard): once full, no new words are added (like
/// `tokenizers`' cache).
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
    /// Independent parts, each with its own lock: tokenizing on every core at once (a request's documents
    /// are encoded in parallel) would otherwise queue every word behind one lock.
    private let shards: [Shard]

    private final class Shard: @unchecked Sendable {
        let lock = NSLock()  // guards `storage`
        var storage: [Key: [Int32]] = [:]
    }

    init(capacity: Int) {
        self.capacity = capacity
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    static let shardCount = 64

    private func shard(_ key: Key) -> Shard {
        let mixed = (key.low &* 0x9E37_79B9_7F4A_7C15) ^ key.high ^ UInt64(key.count)
        return shards[Int(truncatingIfNeeded: (mixed >> 32) % UInt64(Self.shardCount))]
    }

    func lookup(_ key: Key) -> [Int32]? {
        let shard = shard(key)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        return shard.storage[key]
    }

    func insert(_ ids: [Int32], for key: Key) {
        let shard = shard(key)
        shard.lock.lock()
        defer { shard.lock.unlock() }
        if shard.storage.count < capacity / Self.shardCount + 1 { shard.storage[key] = ids }
    }
}
