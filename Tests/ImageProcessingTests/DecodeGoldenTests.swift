import Foundation
import Testing

@testable import ImageProcessing

@Suite("Decoding matches Pillow's convert(\"RGB\")")
struct DecodeGoldenTests {
    @Test("the golden file lists every fixture")
    func goldenIsComplete() {
        #expect(Golden.shared.cases.count >= 30)
        #expect(Golden.shared.bad.count >= 14)
    }

    @Test("decoded pixels equal Pillow's", arguments: Golden.shared.cases)
    func decodedPixels(_ golden: Golden.Case) throws {
        let (image, format) = try ImageDecoder.decodeFileWithFormat(contentsOf: Golden.url(golden.file))
        #expect(image.width == golden.width)
        #expect(image.height == golden.height)
        #expect(format.rawValue.uppercased() == golden.format.uppercased())
        if let reference = golden.decodedRgb {
            let expected = [UInt8](try Data(contentsOf: Golden.url(reference)))
            #expect(maxDifference(image.pixels, expected) == 0, "largest channel difference vs Pillow")
        }
        #expect(fnv1a64(image.pixels) == golden.decodedFnv1a64)
    }

    @Test(
        "RGBA images composited over white match qwen_vl_utils' to_rgb",
        arguments: Golden.shared.cases.filter { $0.compositedFnv1a64 != nil })
    func compositedPixels(_ golden: Golden.Case) throws {
        let image = try ImageDecoder.decode(contentsOf: Golden.url(golden.file), alpha: .compositeOnWhite)
        #expect(fnv1a64(image.pixels) == golden.compositedFnv1a64)
    }

    @Test("decode from Data sniffs the format from the bytes, not the name")
    func sniffsFromBytes() throws {
        let data = try Data(contentsOf: Golden.url("rgb.png"))
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("misnamed-\(UUID().uuidString).jpg")
        try data.write(to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        let (_, format) = try ImageDecoder.decodeFileWithFormat(contentsOf: copy)
        #expect(format == .png)
    }

    @Test("a pixel limit below the image size refuses it before decoding")
    func customPixelLimit() throws {
        let data = try Data(contentsOf: Golden.url("baseline.jpg"))
        #expect(throws: ImageError.tooManyPixels(format: "JPEG", width: 160, height: 120, limit: 1000)) {
            try ImageDecoder.decode(data, maxPixels: 1000)
        }
        #expect(try ImageDecoder.decode(data, maxPixels: 160 * 120).width == 160)
    }
}
