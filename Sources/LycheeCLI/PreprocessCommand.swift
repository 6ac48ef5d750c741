import ArgumentParser
import Foundation
import ImageProcessing

/// `lychee-rerank preprocess IMAGE`: what the model would see of one image.
///
/// Prints one JSON object (grid in patches, image tokens after the 2x2 merge, sizes, format) and can
/// write the pixel values as little-endian float32, (t*h*w) rows of 1176.
struct PreprocessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preprocess",
        abstract: "Decode, resize and patchify an image exactly as the Qwen2-VL image processor does."
    )

    @Argument(help: "Image file (JPEG, PNG, WebP, GIF first frame, BMP).")
    var image: String

    @Option(help: "Smallest resized area in pixels.")
    var minPixels: Int = 3136

    @Option(help: "Largest resized area in pixels.")
    var maxPixels: Int = 1_003_520

    @Option(help: "Refuse images with more decoded pixels than this.")
    var maxDecodedPixels: Int = ImageLimits.defaultMaxDecodedPixels

    @Flag(help: "Blend RGBA images over white (qwen_vl_utils' to_rgb) instead of dropping alpha.")
    var compositeAlpha = false

    @Flag(help: "Add decode/preprocess wall times in milliseconds to the JSON.")
    var timings = false

    @Option(help: "Write pixel values here: little-endian float32, row-major, (t*h*w) x 1176.")
    var output: String?

    /// The printed summary.
    struct Summary: Encodable {
        let file: String
        let format: String
        let originalWidth: Int
        let originalHeight: Int
        let resizedWidth: Int
        let resizedHeight: Int
        let gridThw: [Int]
        let tokens: Int
        let patchRows: Int
        let patchColumns: Int
        let output: String?
        let decodeMilliseconds: Double?
        let preprocessMilliseconds: Double?

        enum CodingKeys: String, CodingKey {
            case file, format, tokens, output
            case originalWidth = "original_width", originalHeight = "original_height"
            case resizedWidth = "resized_width", resizedHeight = "resized_height"
            case gridThw = "grid_thw", patchRows = "patch_rows", patchColumns = "patch_columns"
            case decodeMilliseconds = "decode_ms", preprocessMilliseconds = "preprocess_ms"
        }
    }

    func run() throws {
        guard minPixels > 0, maxPixels >= minPixels else {
            throw ValidationError("--min-pixels must be positive and at most --max-pixels")
        }
        let url = URL(fileURLWithPath: image)
        let clock = ContinuousClock()
        let start = clock.now
        let (decoded, format) = try ImageDecoder.decodeFileWithFormat(
            contentsOf: url, maxPixels: maxDecodedPixels, alpha: compositeAlpha ? .compositeOnWhite : .drop)
        let decodedAt = clock.now
        let processed = try ImagePreprocessor(minPixels: minPixels, maxPixels: maxPixels).process(decoded)
        // The float rows transformers returns (the reranker cuts them on its device instead): timed with the resize.
        let pixelValues = try processed.pixelValues()
        let processedAt = clock.now
        if let output {
            try writeFloat32(pixelValues, to: URL(fileURLWithPath: output))
        }
        let grid = processed.grid
        let summary = Summary(
            file: image, format: format.rawValue, originalWidth: decoded.width, originalHeight: decoded.height,
            resizedWidth: processed.resized.width, resizedHeight: processed.resized.height,
            gridThw: [grid.t, grid.h, grid.w], tokens: processed.mergedTokenCount, patchRows: grid.patchCount,
            patchColumns: ImagePreprocessor.patchValueCount, output: output,
            decodeMilliseconds: timings ? milliseconds(decodedAt - start) : nil,
            preprocessMilliseconds: timings ? milliseconds(processedAt - decodedAt) : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    }

    private func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    private func writeFloat32(_ values: [Float], to url: URL) throws {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            let bits = value.bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        do {
            try Data(bytes).write(to: url)
        } catch {
            throw ValidationError("cannot write pixel values to \(url.path): \(error.localizedDescription)")
        }
    }
}
