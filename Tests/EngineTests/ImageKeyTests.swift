import Crypto
import Foundation
import Testing

@testable import Reranker

@Suite("Image cache keys")
struct ImageKeyTests {
    static func bytes(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 9) }
    }

    @Test("a large content (hashed in parts on all cores) keys as itself, and every part counts")
    func largeContent() {
        let content = Self.bytes(3 * ImageKey.partBytes + 1234, seed: 1)
        let key = ImageKey(bytes: content, minPixels: 1, maxPixels: 2)
        #expect(key == ImageKey(bytes: Data(content), minPixels: 1, maxPixels: 2))
        for position in [0, ImageKey.partBytes, content.count - 1] {
            var changed = content
            changed[position] ^= 1
            #expect(ImageKey(bytes: changed, minPixels: 1, maxPixels: 2) != key, "byte \(position)")
        }
        #expect(ImageKey(bytes: content.dropLast(), minPixels: 1, maxPixels: 2) != key)
        #expect(ImageKey(bytes: content, minPixels: 1, maxPixels: 3) != key)
        #expect(ImageKey(bytes: content, trailer: [1], minPixels: 1, maxPixels: 2) != key)
    }

    @Test("no content passes for another's list of part digests")
    func formsApart() {
        let content = Self.bytes(2 * ImageKey.partBytes, seed: 2)
        var list = Data([1])
        withUnsafeBytes(of: Int64(content.count).littleEndian) { list.append(contentsOf: $0) }
        for part in 0..<2 {
            let start = part * ImageKey.partBytes
            list.append(contentsOf: SHA256.hash(data: content[start..<(start + ImageKey.partBytes)]))
        }
        let key = ImageKey(bytes: content, minPixels: 1, maxPixels: 2)
        #expect(ImageKey(bytes: list, minPixels: 1, maxPixels: 2) != key)
        #expect(ImageKey(bytes: list.dropFirst(), minPixels: 1, maxPixels: 2) != key)
    }
}
