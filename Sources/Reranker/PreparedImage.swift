import Crypto
import Foundation
import Qwen25VL
import TensorKit

/// The identity of an image for caching: a SHA-256 digest of its encoded bytes (or of its pixels for a
/// decoded image) together with the preprocessing settings that decide its grid.
///
/// Two requests that send the same bytes under the same settings get the same vision-tower output, so the
/// key lets the reranker skip decoding and the vision tower for an image it has seen. A cryptographic digest
/// keeps one client from making another client's image collide with its own.
///
/// Content over ``partBytes`` is hashed in parts of that size on all cores, and the digest taken over the parts'
/// digests: the key of a decoded 768 x 512 image (1.2 MB of pixels) is on the critical path of a request whose
/// query is that image (the device waits for it), and one core hashes about 1-2 GB/s. A leading byte tells the
/// two forms apart, so that no content can pass for another's list of part digests.
public struct ImageKey: Hashable, Sendable, CustomStringConvertible {
    let digest: [UInt8]

    /// Size of the parts a large content is hashed in.
    static let partBytes = 256 << 10

    /// The key of `bytes` followed by `trailer` (for a decoded image, its sides).
    init(bytes: some ContiguousBytes, trailer: [UInt8] = [], minPixels: Int, maxPixels: Int) {
        var hasher = SHA256()
        bytes.withUnsafeBytes { content in
            guard content.count > Self.partBytes else {
                hasher.update(data: [0])
                hasher.update(bufferPointer: content)
                return
            }
            let parts = (content.count + Self.partBytes - 1) / Self.partBytes
            let digests = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: parts * SHA256.byteCount)
            defer { digests.deallocate() }
            // Each worker writes its own part's 32 bytes; both buffers outlive the workers.
            nonisolated(unsafe) let target = digests
            nonisolated(unsafe) let source = content
            ConcurrentRows.forEach(count: parts) { part in
                let start = part * Self.partBytes
                let piece = UnsafeRawBufferPointer(rebasing: source[start..<min(source.count, start + Self.partBytes)])
                for (offset, byte) in SHA256.hash(data: piece).enumerated() {
                    target[part * SHA256.byteCount + offset] = byte
                }
            }
            hasher.update(data: [1])
            withUnsafeBytes(of: Int64(content.count).littleEndian) { hasher.update(bufferPointer: $0) }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(digests))
        }
        hasher.update(data: trailer)
        withUnsafeBytes(of: Int64(minPixels).littleEndian) { hasher.update(bufferPointer: $0) }
        withUnsafeBytes(of: Int64(maxPixels).littleEndian) { hasher.update(bufferPointer: $0) }
        digest = Array(hasher.finalize())
    }

    public var description: String { digest.prefix(8).map { String(format: "%02x", $0) }.joined() }
}

/// An image made ready for a forward pass, shared (not copied) by every pair that shows it.
///
/// It holds either the resized image, which the vision tower still has to embed, or the embeddings
/// themselves when the image was found in the ``ImageEmbeddingCache`` (then it was never decoded).
public final class PreparedImage: @unchecked Sendable {
    /// What the forward pass gets for this image.
    public enum Content: Sendable {
        /// The resized image's bytes and patch grid (3 bytes a pixel), cut into patch rows on the model's
        /// device by the forward pass.
        case pixels(PatchifySource)
        /// `mergedTokens x outHidden` vision-tower output, row-major, from the cache.
        case embeddings(HostRows)
    }

    public let key: ImageKey
    public let grid: VisionGrid
    public let content: Content
    /// The decoding this image's pixels came from, held so that other requests showing the image while this
    /// one is in flight share it (``ImagePreparations``).
    let decoded: DecodedImage?

    private let lock = NSLock()
    private var embedded: Tensor?

    init(key: ImageKey, grid: VisionGrid, content: Content) {
        self.key = key
        self.grid = grid
        self.content = content
        self.decoded = nil
    }

    /// An image to embed, from a decoding that other requests may share.
    init(key: ImageKey, decoded: DecodedImage) {
        self.key = key
        self.grid = decoded.grid
        self.content = .pixels(decoded.source)
        self.decoded = decoded
    }

    /// The image's vision-tower output on the device, kept once a forward pass computed it, for the later
    /// passes of the same request (a query image shared by pairs that do not fit one pass). Freed with the
    /// image when the request's last pair is gone.
    var deviceEmbeddings: Tensor? {
        get { lock.withLock { embedded } }
        set { lock.withLock { embedded = newValue } }
    }

}
