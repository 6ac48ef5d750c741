import Crypto
import Foundation
import Qwen25VL

/// Identifies a prompt prefix for the ``PrefixCache``: its token ids and the query image whose embeddings
/// fill its image rows.
public struct PrefixCacheKey: Hashable, Sendable {
    let digest: [UInt8]

    init(tokenIDs: ArraySlice<Int32>, queryImage: ImageKey?) {
        var hasher = SHA256()
        tokenIDs.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        hasher.update(data: queryImage?.digest ?? [])
        digest = Array(hasher.finalize())
    }
}

/// A bounded, least-recently-used cache of prompt prefixes' keys and values (``PrefixKV``), in host memory.
///
/// A query seen again (pages of one query's candidates sent as several requests, or the same query image
/// under new words: the prefix up to the end of the query image is cached on its own) skips computing its
/// prefix: the pass attends to the stored keys and values. A prefix is stored the second time it is seen,
/// so one-off queries cost nothing. Exact: the stored rows are those the prefix's own pass computed.
///
/// Thread-safe.
public final class PrefixCache: @unchecked Sendable {
    /// Counters and sizes, for metrics.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var entries = 0
        public var bytes = 0
        public var evictions = 0
        public var capacityBytes = 0
    }

    public let capacityBytes: Int
    private let lock = NSLock()
    private var entries = [PrefixCacheKey: (kv: PrefixKV, lastUse: UInt64)]()
    private var seen = Set<PrefixCacheKey>()
    private var clock: UInt64 = 0
    private var statistics = Statistics()
    /// Most keys remembered as seen once (then the memory starts over).
    static let seenLimit = 8192

    /// A cache of at most `capacityBytes` (0 disables it).
    public init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
        statistics.capacityBytes = self.capacityBytes
    }

    public var isEnabled: Bool { capacityBytes > 0 }

    /// The stored prefix for `key`, counted as a hit or a miss.
    func lookup(_ key: PrefixCacheKey) -> PrefixKV? {
        guard isEnabled else { return nil }
        return lock.withLock {
            guard let entry = entries[key] else {
                statistics.misses += 1
                return nil
            }
            clock += 1
            entries[key] = (entry.kv, clock)
            statistics.hits += 1
            return entry.kv
        }
    }

    /// Whether a pass computing `key` should capture it: true from its second sighting on.
    func shouldCapture(_ key: PrefixCacheKey) -> Bool {
        guard isEnabled else { return false }
        return lock.withLock {
            if seen.contains(key) { return true }
            if seen.count >= Self.seenLimit { seen.removeAll(keepingCapacity: true) }
            seen.insert(key)
            return false
        }
    }

    /// Stores `kv`, evicting the least recently used entries to stay within capacity.
    func insert(_ key: PrefixCacheKey, _ kv: PrefixKV) {
        guard isEnabled, kv.byteCount <= capacityBytes else { return }
        lock.withLock {
            if let old = entries[key] { statistics.bytes -= old.kv.byteCount }
            clock += 1
            entries[key] = (kv, clock)
            statistics.bytes += kv.byteCount
            while statistics.bytes > capacityBytes, let victim = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                entries[victim.key] = nil
                statistics.bytes -= victim.value.kv.byteCount
                statistics.evictions += 1
            }
        }
    }

    public func snapshot() -> Statistics {
        lock.withLock {
            var copy = statistics
            copy.entries = entries.count
            return copy
        }
    }
}
