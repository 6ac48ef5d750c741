import Foundation
import Qwen25VL
import TensorKit

/// An image decoded and resized on the host: what every request showing it can feed the vision tower.
///
/// Immutable; shared by the ``PreparedImage``s of every request that showed the image while it was held.
final class DecodedImage: Sendable {
    let grid: VisionGrid
    let source: PatchifySource
    /// Pixels of the image as decoded (before resizing): what it costs a request's ``PixelAllowance``.
    let decodedPixels: Int

    init(grid: VisionGrid, source: PatchifySource, decodedPixels: Int) {
        self.grid = grid
        self.source = source
        self.decodedPixels = decodedPixels
    }
}

/// Images being decoded, or held decoded by requests in flight, keyed by ``ImageKey``: an image that many
/// concurrent requests show (a burst of queries over the same new product photo, the same image twice in one
/// request) is decoded and resized once, while the image cache has yet to receive its embeddings.
///
/// A request that finds the image being decoded waits for it; one that finds it decoded takes it. An image
/// is held only while some request's ``PreparedImage`` holds it (the table keeps it weakly), so the table adds
/// no memory of its own and keeps nothing after its requests are gone. A decoding that fails is not shared:
/// each request then decodes the image itself and gets its own error.
///
/// Thread-safe; one table serves every replica of a reranker (host data only).
public final class ImagePreparations: @unchecked Sendable {
    /// Counters, for metrics.
    public struct Statistics: Sendable, Equatable {
        /// Images decoded and resized on the host.
        public var decoded = 0
        /// Images a request took from another request's decoding (or an earlier one of its own) instead of
        /// decoding them again.
        public var shared = 0
    }

    /// One image's slot: being decoded (`image` nil, `finished` false), or decoded and held weakly.
    private final class Slot: @unchecked Sendable {
        let condition = NSCondition()
        private var finished = false  // guarded by `condition`
        private weak var image: DecodedImage?  // guarded by `condition`

        /// Whether the decoding finished, and the image if it succeeded and some request still holds it.
        var state: (finished: Bool, image: DecodedImage?) {
            condition.lock()
            defer { condition.unlock() }
            return (finished, image)
        }

        /// Waits for the decoding to finish; nil when it failed (or the image is gone again).
        func wait() -> DecodedImage? {
            condition.lock()
            defer { condition.unlock() }
            while !finished { condition.wait() }
            return image
        }

        func finish(with decoded: DecodedImage?) {
            condition.lock()
            image = decoded
            finished = true
            condition.broadcast()
            condition.unlock()
        }
    }

    private let lock = NSLock()
    private var slots = [ImageKey: Slot]()  // guarded by `lock`
    private var statistics = Statistics()  // guarded by `lock`
    private var sweepAt = 64  // guarded by `lock`: slot count at which released images' slots are removed

    public init() {}

    /// The decoded image for `key`: another request's when one is held or being decoded, else `decode()`'s
    /// (which other requests then share). A decoding that fails (here or in the request this one waited for)
    /// is not shared: this request runs `decode()` itself, so its error is its own.
    /// - Returns: the image and whether it came from another decoding.
    func image(for key: ImageKey, decode: () throws -> DecodedImage) throws -> (image: DecodedImage, shared: Bool) {
        enum Found {
            case held(DecodedImage)
            case decoding(Slot)
            case ours(Slot)
        }
        let found = lock.withLock { () -> Found in
            if let slot = slots[key] {
                let state = slot.state
                if let image = state.image {
                    statistics.shared += 1
                    return .held(image)
                }
                if !state.finished { return .decoding(slot) }
            }
            let slot = Slot()
            slots[key] = slot
            sweepReleasedSlots()
            return .ours(slot)
        }
        switch found {
        case .held(let image):
            return (image, true)
        case .decoding(let slot):
            if let image = slot.wait() {
                lock.withLock { statistics.shared += 1 }
                return (image, true)
            }
            let image = try decode()
            lock.withLock { statistics.decoded += 1 }
            return (image, false)
        case .ours(let slot):
            let image: DecodedImage
            do {
                image = try decode()
            } catch {
                lock.withLock {
                    if slots[key] === slot { slots[key] = nil }
                }
                slot.finish(with: nil)
                throw error
            }
            lock.withLock { statistics.decoded += 1 }
            slot.finish(with: image)
            return (image, false)
        }
    }

    /// Counters now.
    public func snapshot() -> Statistics { lock.withLock { statistics } }

    /// Slots in the table (being decoded, held, or released and not yet removed), for tests.
    var slotCount: Int { lock.withLock { slots.count } }

    /// Removes the slots whose images every request has let go of, once the table has doubled since the
    /// last removal (so the work stays proportional to the slots added). Call under `lock`.
    private func sweepReleasedSlots() {
        guard slots.count >= sweepAt else { return }
        slots = slots.filter { _, slot in
            let state = slot.state
            return !state.finished || state.image != nil
        }
        sweepAt = max(64, 2 * slots.count)
    }
}
