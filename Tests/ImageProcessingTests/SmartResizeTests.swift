import TensorKit
import Testing

@testable import ImageProcessing

@Suite("smart_resize")
struct SmartResizeTests {
    @Test("matches qwen_vl_utils.smart_resize", arguments: Golden.shared.smartResize)
    func matchesReference(_ golden: Golden.SmartResizeCase) {
        let result = try? smartResize(height: golden.height, width: golden.width, minPixels: 3136, maxPixels: 1_003_520)
        if let expected = golden.expected {
            #expect(result.map { [$0.height, $0.width] } == expected)
        } else {
            #expect(result == nil)
        }
    }

    @Test("rounds half to even like Python")
    func halfToEven() throws {
        // 42 / 28 = 1.5 -> 2, 70 / 28 = 2.5 -> 2 (both multiplied back by 28).
        #expect(try smartResize(height: 70, width: 42 * 28, minPixels: 1, maxPixels: 10_000_000) == (56, 1176))
        #expect(try smartResize(height: 42, width: 42 * 28, minPixels: 1, maxPixels: 10_000_000) == (56, 1176))
    }

    @Test("aspect ratio above 200 is refused, 200 is allowed")
    func aspectRatio() throws {
        #expect(throws: ImageError.aspectRatioTooLarge(width: 2010, height: 10)) {
            try smartResize(height: 10, width: 2010, minPixels: 3136, maxPixels: 1_003_520)
        }
        #expect(try smartResize(height: 10, width: 2000, minPixels: 3136, maxPixels: 1_003_520) == (28, 1988))
    }

    @Test("unusable limits are refused")
    func limits() {
        #expect(throws: ImageError.invalidPixelLimits(minPixels: 5000, maxPixels: 100)) {
            try smartResize(height: 100, width: 100, minPixels: 5000, maxPixels: 100)
        }
        #expect(throws: ImageError.invalidPixelLimits(minPixels: 0, maxPixels: 100)) {
            try smartResize(height: 100, width: 100, minPixels: 0, maxPixels: 100)
        }
    }

    @Test("patch rows follow the 2x2 merge-block order")
    func patchOrder() throws {
        // A 56x56 image whose red channel encodes the 14x14 patch index (row-major over a 4x4 grid).
        var pixels = [UInt8](repeating: 0, count: 56 * 56 * 3)
        for y in 0..<56 { for x in 0..<56 { pixels[(y * 56 + x) * 3] = UInt8((y / 14) * 4 + x / 14) } }
        let image = try RGBImage(width: 56, height: 56, pixels: pixels)
        let grid = VisionGrid(t: 1, h: 4, w: 4)
        let values = try ImagePreprocessor.patchify(image, grid: grid)
        let lookup = ImagePreprocessor.normalizedLookup
        let expectedOrder = [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15]
        for (row, patch) in expectedOrder.enumerated() {
            let base = row * ImagePreprocessor.patchValueCount
            #expect(values[base] == lookup[patch])  // channel 0, frame 0, (0, 0)
            #expect(values[base + 196] == lookup[patch])  // channel 0, frame 1 repeats frame 0
            #expect(values[base + 392] == lookup[256])  // channel 1 (green 0)
        }
    }

    @Test("RGBImage refuses a buffer of the wrong size")
    func invalidImage() {
        #expect(throws: ImageError.invalidImage(width: 2, height: 2, byteCount: 3)) {
            try RGBImage(width: 2, height: 2, pixels: [1, 2, 3])
        }
    }
}
