import Foundation
import ImageProcessing

/// The decoded pixels one request may still spend: each image is decoded with at most what is left, so a
/// request of many cheap-to-send, expensive-to-decode images (a tiny PNG that inflates to 88 megapixels)
/// is refused before its images are decoded, not after seconds of work.
final class PixelAllowance: @unchecked Sendable {
    let total: Int
    private let lock = NSLock()
    private var spent = 0

    init(total: Int) { self.total = max(0, total) }

    /// Pixels still allowed.
    var remaining: Int { lock.withLock { max(0, total - spent) } }

    /// Counts `pixels` decoded; throws when the request went over its allowance.
    func spend(_ pixels: Int) throws {
        let over = lock.withLock { () -> Bool in
            spent += pixels
            return spent > total
        }
        if over { throw RerankerError.tooManyPixels(limit: total) }
    }
}
