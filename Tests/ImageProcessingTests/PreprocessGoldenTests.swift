import Foundation
import Testing

@testable import ImageProcessing

@Suite("Resize, normalise and patchify match transformers' Qwen2VLImageProcessor")
struct PreprocessGoldenTests {
    let preprocessor = ImagePreprocessor(minPixels: Golden.shared.minPixels, maxPixels: Golden.shared.maxPixels)

    @Test("resized image, grid, tokens and pixel values", arguments: Golden.shared.cases)
    func pipeline(_ golden: Golden.Case) throws {
        let image = try ImageDecoder.decode(contentsOf: Golden.url(golden.file))
        try check(preprocessor.process(image), against: golden.pipeline)
    }

    @Test(
        "the same with alpha composited over white",
        arguments: Golden.shared.cases.filter { $0.composited != nil })
    func compositedPipeline(_ golden: Golden.Case) throws {
        let image = try ImageDecoder.decode(contentsOf: Golden.url(golden.file), alpha: .compositeOnWhite)
        let reference = try #require(golden.composited)
        try check(preprocessor.process(image), against: reference)
    }

    private func check(_ result: PreprocessedImage, against golden: Golden.Pipeline) throws {
        #expect([result.grid.t, result.grid.h, result.grid.w] == golden.gridThw)
        #expect(result.mergedTokenCount == golden.tokens)
        #expect(result.resized.width == golden.resizedWidth && result.resized.height == golden.resizedHeight)
        if let png = golden.resizedPng {
            let expected = try ImageDecoder.decode(contentsOf: Golden.url(png))
            #expect(maxDifference(result.resized.pixels, expected.pixels) == 0, "largest resize difference vs Pillow")
        }
        #expect(fnv1a64(result.resized.pixels) == golden.resizedFnv1a64)

        let values = try result.pixelValues()
        #expect(values.count == golden.pixelValues.rows * golden.pixelValues.columns)
        #expect(golden.pixelValues.columns == ImagePreprocessor.patchValueCount)
        var sum = 0.0
        var absSum = 0.0
        for value in values {
            sum += Double(value)
            absSum += Double(abs(value))
        }
        #expect(abs(sum - golden.pixelValues.sum) <= 1e-6 * max(1, golden.pixelValues.absSum))
        #expect(abs(absSum - golden.pixelValues.absSum) <= 1e-6 * max(1, golden.pixelValues.absSum))
        for sample in golden.pixelValues.samples {
            let index = Int(sample[0])
            try #require(index < values.count)
            #expect(abs(Double(values[index]) - sample[1]) <= 1e-6, "pixel value \(index)")
        }
        if let file = golden.pixelValues.f32 {
            let data = try Data(contentsOf: Golden.url(file))
            let expected: [Float] = data.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
                }
            }
            #expect(expected.count == values.count)
            var worst: Float = 0
            for (a, b) in zip(values, expected) { worst = max(worst, abs(a - b)) }
            #expect(worst <= 1e-6, "largest pixel value difference")
        }
    }
}
