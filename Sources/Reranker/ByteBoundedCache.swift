import Foundation

/// Counters and sizes of a cache, for metrics.
public struct CacheStatistics: Sendable, Equatable {
    public var hits = 0
    public var misses = 0
    public var entries = 0
    public var bytes = 0
    public var evictions = 0
    public var capacityBytes = 0
}

/// A thread-safe least-recently-used store bounded by the bytes of its values: the one policy behind the
/// image embedding cache and the prompt prefix cache.
final class ByteBoundedCache<Key: Hashable, Value>: @unchecked Sendable {
    private struct Entry {
        var value: Value
        var bytes: Int
        var lastUse: UInt64
    }

    let capacityBytes: Int
    private let lock = NSLock()
    private var entries = [Key: Entry]()
    private var clock: UInt64 = 0
    private var statistics = CacheStatistics()

    /// A store holding at most `capacityBytes` (0 holds nothing).
    init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
        statistics.capacityBytes = self.capacityBytes
    }

    var isEnabled: Bool { capacityBytes > 0 }

    /// The value for `key` (now the most recently used); with `counting`, counted as a hit or a miss.
    func lookup(_ key: Key, counting: Bool = true) -> Value? {
        guard isEnabled else { return nil }
        return lock.withLock {
            guard var entry = entries[key] else {
                if counting { statistics.misses += 1 }
                return nil
            }
            clock += 1
            entry.lastUse = clock
            entries[key] = entry
            if counting { statistics.hits += 1 }
            return entry.value
        }
    }

    /// Stores `value` of `bytes`, evicting the least recently used entries to stay within capacity; a value
    /// larger than the whole capacity is not stored.
    func insert(_ key: Key, _ value: Value, bytes: Int) {
        guard isEnabled, bytes <= capacityBytes else { return }
        lock.withLock {
            if let old = entries[key] { statistics.bytes -= old.bytes }
            clock += 1
            entries[key] = Entry(value: value, bytes: bytes, lastUse: clock)
            statistics.bytes += bytes
            while statistics.bytes > capacityBytes,
                let victim = entries.min(by: { $0.value.lastUse < $1.value.lastUse })
            {
                entries[victim.key] = nil
                statistics.bytes -= victim.value.bytes
                statistics.evictions += 1
            }
        }
    }

    /// Counters and sizes now.
    func snapshot() -> CacheStatistics {
        lock.withLock {
            var copy = statistics
            copy.entries = entries.count
            return copy
        }
    }
}
