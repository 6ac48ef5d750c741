import Foundation
import Qwen25VL
import TensorKit

/// Vision-tower rows that the image cache is to keep, still on the device: downloading them (a few
/// milliseconds for a handful of images, the device left idle meanwhile) waits until the pass that needed them
/// has answered (``Reranker/cacheEmbeddedImages()``), so that no request waits for another's cache entries.
///
/// Thread-safe.
final class PendingImageEmbeddings: @unchecked Sendable {
    /// One image's rows on the device.
    struct Entry {
        var key: ImageKey
        var grid: VisionGrid
        var rows: Tensor
    }

    /// Bytes of rows beyond which a pass or an embedding ahead stores the entries left over first (a caller
    /// that never calls ``Reranker/cacheEmbeddedImages()`` holds no more than this on the device): about 18
    /// images of 768 x 512 in bf16.
    static let leftoverLimitBytes = 64 << 20

    private let lock = NSLock()
    private var entries: [Entry] = []  // guarded by `lock`
    private var heldBytes = 0  // guarded by `lock`

    func append(_ entry: Entry) {
        lock.withLock {
            entries.append(entry)
            heldBytes += entry.rows.byteCount
        }
    }

    /// Every entry, in the order they came, leaving none.
    func takeAll() -> [Entry] {
        lock.withLock {
            defer {
                entries.removeAll()
                heldBytes = 0
            }
            return entries
        }
    }

    /// Bytes of rows the entries hold on the device.
    var bytes: Int { lock.withLock { heldBytes } }
}
