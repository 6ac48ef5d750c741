import Foundation
import Qwen25VL

/// A bounded, least-recently-used cache of vision-tower outputs keyed by ``ImageKey``.
///
/// An image seen again, as a query (a paginated search) or as a document (the same product photo under many
/// queries), skips decoding, preprocessing and the vision tower. Entries live in host memory (fp32), so the
/// cache never competes with activations for device memory; uploading an entry costs a fraction of a
/// millisecond against several milliseconds of vision tower. Exact: the cached rows are the rows the tower
/// returned.
///
/// Thread-safe.
public final class ImageEmbeddingCache: @unchecked Sendable {
    struct Entry {
        var grid: VisionGrid
        var embeddings: [Float]
        var lastUse: UInt64
        var bytes: Int { embeddings.count * MemoryLayout<Float>.size }
    }

    /// Counters and sizes, for metrics.
    public struct Statistics: Sendable, Equatable {
        public var hits = 0
        public var misses = 0
        public var entries = 0
        public var bytes = 0
        public var evictions = 0
        public var capacityBytes = 0
    }

    /// Most bytes of embeddings held; 0 disables the cache.
    public let capacityBytes: Int
    private let lock = NSLock()
    private var entries = [ImageKey: Entry]()
    private var clock: UInt64 = 0
    private var statistics = Statistics()

    /// A cache holding at most `capacityBytes` of embeddings (0 holds nothing).
    public init(capacityBytes: Int) {
        self.capacityBytes = max(0, capacityBytes)
        statistics.capacityBytes = self.capacityBytes
    }

    /// Whether the cache can hold anything.
    public var isEnabled: Bool { capacityBytes > 0 }

    /// The entry for `key`; with `counting`, counted as a hit or a miss.
    func lookup(_ key: ImageKey, counting: Bool = true) -> (grid: VisionGrid, embeddings: [Float])? {
        guard isEnabled else { return nil }
        lock.lock()
        defer { lock.unlock() }
        guard var entry = entries[key] else {
            if counting { statistics.misses += 1 }
            return nil
        }
        clock += 1
        entry.lastUse = clock
        entries[key] = entry
        if counting { statistics.hits += 1 }
        return (entry.grid, entry.embeddings)
    }

    /// Stores `embeddings` for `key`, evicting the least recently used entries to stay within capacity.
    /// An entry larger than the whole capacity is not stored.
    func insert(_ key: ImageKey, grid: VisionGrid, embeddings: [Float]) {
        let bytes = embeddings.count * MemoryLayout<Float>.size
        guard isEnabled, bytes <= capacityBytes else { return }
        lock.lock()
        defer { lock.unlock() }
        if let old = entries[key] { statistics.bytes -= old.bytes }
        clock += 1
        entries[key] = Entry(grid: grid, embeddings: embeddings, lastUse: clock)
        statistics.bytes += bytes
        while statistics.bytes > capacityBytes, let victim = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            entries[victim.key] = nil
            statistics.bytes -= victim.value.bytes
            statistics.evictions += 1
        }
        statistics.entries = entries.count
    }

    /// Counters and sizes now.
    public func snapshot() -> Statistics {
        lock.lock()
        defer { lock.unlock() }
        var copy = statistics
        copy.entries = entries.count
        return copy
    }
}
