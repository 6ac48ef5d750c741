import Foundation
import Qwen25VL
import TensorKit

/// Vision-tower rows that the image cache is to keep, on their way to the host: their copies were started
/// behind the vision tower (``Backend/downloadRowsLater(_:)``: on a GPU they run on the copy engine beside the
/// decoder), and the cache receives them once the pass that needed them has answered
/// (``Reranker/cacheEmbeddedImages()``), so that no request waits for another's cache entries.
///
/// Thread-safe.
final class PendingImageEmbeddings: @unchecked Sendable {
    /// One image's rows.
    struct Entry {
        var key: ImageKey
        var grid: VisionGrid
        var rows: PendingHostRows
        /// Bytes of the rows (held on the device until their copy has finished).
        var bytes: Int
    }

    /// Bytes of rows beyond which a pass or an embedding ahead stores the entries left over first (a caller
    /// that never calls ``Reranker/cacheEmbeddedImages()`` holds no more than this): about 18 images of
    /// 768 x 512 in bf16.
    static let leftoverLimitBytes = 64 << 20

    private let lock = NSLock()
    private var entries: [Entry] = []  // guarded by `lock`

    func append(_ entry: Entry) { lock.withLock { entries.append(entry) } }

    /// Every entry, in the order they came; they stay until ``remove(_:)``, so that an image is always in the cache
    /// or here while it is handed over.
    func all() -> [Entry] { lock.withLock { entries } }

    /// Removes `handedOver` (entries ``all()`` returned; any that are gone already are skipped).
    func remove(_ handedOver: [Entry]) {
        lock.withLock { entries.removeAll { entry in handedOver.contains { $0.rows === entry.rows } } }
    }

    /// The entry of `key`, if there is one: an image a pass embedded that has not been handed over yet.
    func entry(for key: ImageKey) -> Entry? { lock.withLock { entries.last { $0.key == key } } }

    /// Bytes of the entries' rows.
    var bytes: Int { lock.withLock { entries.reduce(0) { $0 + $1.bytes } } }

    /// Entries waiting for the hand-over.
    var count: Int { lock.withLock { entries.count } }
}
