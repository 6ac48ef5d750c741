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
public final class PrefixCache: Sendable {
    /// Counters and sizes, for metrics.
    public typealias Statistics = CacheStatistics

    private let store: ByteBoundedCache<PrefixCacheKey, PrefixKV>
    private let lock = NSLock()
    nonisolated(unsafe) private var seen = Set<PrefixCacheKey>()
    /// Most keys remembered as seen once (then the memory starts over).
    static let seenLimit = 8192

    /// A cache of at most `capacityBytes` (0 disables it).
    public init(capacityBytes: Int) {
        store = ByteBoundedCache(capacityBytes: capacityBytes)
    }

    public var capacityBytes: Int { store.capacityBytes }
    public var isEnabled: Bool { store.isEnabled }

    /// The stored prefix for `key`, counted as a hit or a miss.
    func lookup(_ key: PrefixCacheKey) -> PrefixKV? { store.lookup(key) }

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
    func insert(_ key: PrefixCacheKey, _ kv: PrefixKV) { store.insert(key, kv, bytes: kv.byteCount) }

    public func snapshot() -> Statistics { store.snapshot() }
}
