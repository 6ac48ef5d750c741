import Foundation
import Qwen25VL
import TensorKit

/// A bounded, least-recently-used cache of vision-tower outputs keyed by ``ImageKey``.
///
/// An image seen again, as a query (a paginated search) or as a document (the same product photo under many
/// queries), skips decoding, preprocessing and the vision tower. Entries live in host memory in the
/// backend's activation type (bf16 on a GPU: 3.5 MB for a 768x512 image's 486 rows), so the cache never
/// competes with activations for device memory; uploading an entry costs a fraction of a millisecond against
/// several milliseconds of vision tower. Exact: the cached rows are the rows the tower returned.
///
/// Thread-safe.
public final class ImageEmbeddingCache: Sendable {
    /// Counters and sizes, for metrics.
    public typealias Statistics = CacheStatistics

    private let store: ByteBoundedCache<ImageKey, (grid: VisionGrid, embeddings: HostRows)>

    /// A cache holding at most `capacityBytes` of embeddings (0 holds nothing).
    public init(capacityBytes: Int) {
        store = ByteBoundedCache(capacityBytes: capacityBytes)
    }

    /// Most bytes of embeddings held; 0 disables the cache.
    public var capacityBytes: Int { store.capacityBytes }
    /// Whether the cache can hold anything.
    public var isEnabled: Bool { store.isEnabled }

    /// The entry for `key`; with `counting`, counted as a hit or a miss.
    func lookup(_ key: ImageKey, counting: Bool = true) -> (grid: VisionGrid, embeddings: HostRows)? {
        store.lookup(key, counting: counting)
    }

    /// Stores `embeddings` for `key`, evicting the least recently used entries to stay within capacity.
    /// An entry larger than the whole capacity is not stored.
    func insert(_ key: ImageKey, grid: VisionGrid, embeddings: HostRows) {
        store.insert(key, (grid, embeddings), bytes: embeddings.byteCount)
    }

    /// Counters and sizes now.
    public func snapshot() -> Statistics { store.snapshot() }
}
