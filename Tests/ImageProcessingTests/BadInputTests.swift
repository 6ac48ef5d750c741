import Foundation
import Testing

@testable import ImageProcessing

@Suite("Bad images are refused with a message a user can act on")
struct BadInputTests {
    @Test("every bad fixture gives its expected error", arguments: Golden.shared.bad)
    func badFixture(_ bad: Golden.Bad) throws {
        let url = Golden.url(bad.file)
        var caught: ImageError?
        do {
            let image = try ImageDecoder.decode(contentsOf: url)
            _ = try ImagePreprocessor().process(image)
        } catch {
            caught = error
        }
        let error = try #require(caught, "\(bad.file) was accepted")
        guard case .inFile(let path, let inner) = error else {
            #expect(bad.error == "aspectRatioTooLarge")
            if case .aspectRatioTooLarge(let width, let height) = error {
                #expect(width == 10 && height == 2100)
                #expect(error.description.contains("aspect ratio 210.0 is above 200"))
            } else {
                Issue.record("unexpected error \(error)")
            }
            return
        }
        #expect(path == url.path)
        #expect(error.description.hasPrefix(url.path + ": "))
        let expectations: [String: (ImageError) -> Bool] = [
            "truncated": { if case .truncated = $0 { true } else { false } },
            "corrupt": { if case .corrupt = $0 { true } else { false } },
            "unknownFormat": { if case .unknownFormat = $0 { true } else { false } },
            "emptyData": { $0 == .emptyData },
            "tooManyPixels": { if case .tooManyPixels = $0 { true } else { false } },
            "dimensionTooLarge": { if case .dimensionTooLarge = $0 { true } else { false } },
            "zeroSize": { if case .zeroSize = $0 { true } else { false } },
            "unsupported": { if case .unsupported = $0 { true } else { false } },
        ]
        let matches = try #require(expectations[bad.error])
        #expect(matches(inner), "\(bad.file): got \(inner)")
    }

    @Test("messages say what was wrong and what to do")
    func messages() {
        #expect(
            ImageError.truncated(format: "PNG").description
                == "PNG file is truncated (the data ends before the image does); re-download or re-export it")
        #expect(
            ImageError.tooManyPixels(format: "PNG", width: 20000, height: 20000, limit: 89_478_485).description
                == "PNG image is 20000x20000 = 400000000 pixels, above the limit of 89478485 (possible decompression bomb); shrink the image or raise the pixel limit"
        )
        #expect(
            ImageError.dimensionTooLarge(format: "PNG", width: 200_000, height: 1, limit: 100_000).description
                == "PNG image is 200000x1; a side above 100000 pixels is refused; shrink the image")
        #expect(
            ImageError.unknownFormat(leadingBytes: "74 68").description.contains(
                "supported formats are JPEG, PNG, WebP, GIF and BMP"))
        #expect(ImageError.emptyData.description.hasPrefix("image data is empty"))
        #expect(
            ImageError.zeroSize(format: "BMP", width: 0, height: 120).description
                == "BMP image has zero size (0x120); an image needs at least one pixel")
        #expect(
            ImageError.corrupt(format: "JPEG", detail: "x").description
                == "JPEG file is corrupt: x; re-export the image")
        #expect(
            ImageError.unsupported(format: "BMP", detail: "RLE-compressed bitmap").description
                == "BMP file uses a feature that is not supported: RLE-compressed bitmap; convert it to PNG or JPEG")
        #expect(ImageError.invalidPixelLimits(minPixels: 10, maxPixels: 5).description.contains("min <= max"))
    }

    @Test("specific messages from the decoders")
    func decoderMessages() throws {
        let bomb = try Data(contentsOf: Golden.url("bad_bomb.png"))
        #expect(throws: ImageError.tooManyPixels(format: "PNG", width: 20000, height: 20000, limit: 89_478_485)) {
            try ImageDecoder.decode(bomb)
        }
        let text = try Data(contentsOf: Golden.url("bad_unknown.txt"))
        #expect(throws: ImageError.unknownFormat(leadingBytes: "74 68 69 73 20 69 73 20")) {
            try ImageDecoder.decode(text)
        }
        #expect(throws: ImageError.emptyData) { try ImageDecoder.decode(Data()) }
        let missing = Golden.url("no_such_file.png")
        do {
            _ = try ImageDecoder.decode(contentsOf: missing)
            Issue.record("a missing file was accepted")
        } catch {
            #expect(error.description.hasPrefix("cannot read image file \(missing.path)"))
        }
    }

    @Test("random and mutated bytes never crash the decoders")
    func fuzz() throws {
        var generator = SystemRandomNumberGenerator()
        let seeds = [
            "baseline.jpg", "progressive.jpg", "rgb.png", "interlaced.png", "lossy.webp", "first_frame.gif",
            "rgb24.bmp", "palette8.bmp",
        ]
        for file in seeds {
            let original = [UInt8](try Data(contentsOf: Golden.url(file)))
            for round in 0..<40 {
                var bytes = original
                for _ in 0..<(1 + round % 8) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                if round % 5 == 0 { bytes = Array(bytes.prefix(Int.random(in: 1..<bytes.count, using: &generator))) }
                _ = try? ImageDecoder.decode(Data(bytes))
            }
        }
    }
}
