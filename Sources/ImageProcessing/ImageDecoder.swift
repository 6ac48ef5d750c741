import CImageCodecs
import Foundation
import RegularFiles

/// Decodes JPEG, PNG, WebP, GIF (first frame) and BMP bytes into 8-bit RGB, pixel for pixel as
/// Pillow's `Image.open(f).convert("RGB")` does.
///
/// The format is sniffed from the leading bytes. Width and height are read from the header and checked
/// against `maxPixels` and `ImageLimits.maxDimension` before any pixel memory is allocated.
public enum ImageDecoder {
    /// Decodes encoded image bytes.
    /// - Parameters:
    ///   - data: the whole file.
    ///   - maxPixels: refuse images with more pixels than this (Pillow's default limit).
    ///   - alpha: how an alpha channel becomes RGB (default: dropped, as Pillow's `convert("RGB")`).
    public static func decode(
        _ data: Data, maxPixels: Int = ImageLimits.defaultMaxDecodedPixels, alpha: AlphaHandling = .drop
    ) throws(ImageError) -> RGBImage {
        try decodeWithFormat(data, maxPixels: maxPixels, alpha: alpha).image
    }

    /// Reads and decodes a file; errors name the file.
    public static func decode(
        contentsOf url: URL, maxPixels: Int = ImageLimits.defaultMaxDecodedPixels, alpha: AlphaHandling = .drop
    ) throws(ImageError) -> RGBImage {
        try decodeFileWithFormat(contentsOf: url, maxPixels: maxPixels, alpha: alpha).image
    }

    /// Like `decode(contentsOf:)`, also saying which format the file was.
    public static func decodeFileWithFormat(
        contentsOf url: URL, maxPixels: Int = ImageLimits.defaultMaxDecodedPixels, alpha: AlphaHandling = .drop
    ) throws(ImageError) -> (image: RGBImage, format: ImageFormat) {
        let data: Data
        do {
            data = try RegularFile.contents(of: url)
        } catch {
            throw .unreadableFile(path: url.path, reason: error.reason)
        }
        do {
            return try decodeWithFormat(data, maxPixels: maxPixels, alpha: alpha)
        } catch {
            throw .inFile(path: url.path, error)
        }
    }

    /// Like `decode(_:)`, also saying which format the bytes were.
    public static func decodeWithFormat(
        _ data: Data, maxPixels: Int = ImageLimits.defaultMaxDecodedPixels, alpha: AlphaHandling = .drop
    ) throws(ImageError) -> (image: RGBImage, format: ImageFormat) {
        guard !data.isEmpty else { throw .emptyData }
        let limit = max(0, maxPixels)
        let result: Result<(image: RGBImage, format: ImageFormat), ImageError> = data.withUnsafeBytes { bytes in
            guard let format = ImageFormat.sniff(bytes) else {
                let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
                return .failure(.unknownFormat(leadingBytes: head))
            }
            do throws(ImageError) {
                let image: RGBImage
                if format == .bmp {
                    image = try BMPDecoder.decode(bytes, maxPixels: limit, alpha: alpha)
                } else {
                    image = try decodeWithCodec(format, bytes, maxPixels: limit, alpha: alpha)
                }
                return .success((image, format))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Runs one of the C shims and turns its result into an `RGBImage` or a typed error.
    private static func decodeWithCodec(
        _ format: ImageFormat, _ bytes: UnsafeRawBufferPointer, maxPixels: Int, alpha: AlphaHandling
    ) throws(ImageError) -> RGBImage {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .emptyData }
        var decoded = lr_decoded()
        defer { lr_decoded_free(&decoded) }
        let pixelLimit = UInt64(maxPixels)
        let sideLimit = UInt32(ImageLimits.maxDimension)
        let status: lr_status
        switch format {
        case .jpeg: status = lr_decode_jpeg(base, bytes.count, pixelLimit, sideLimit, &decoded)
        case .png: status = lr_decode_png(base, bytes.count, pixelLimit, sideLimit, &decoded)
        case .webp: status = lr_decode_webp(base, bytes.count, pixelLimit, sideLimit, &decoded)
        case .gif: status = lr_decode_gif(base, bytes.count, pixelLimit, sideLimit, &decoded)
        case .bmp: return try BMPDecoder.decode(bytes, maxPixels: maxPixels, alpha: alpha)
        }
        let name = format.rawValue
        let width = Int(decoded.width)
        let height = Int(decoded.height)
        switch status {
        case LR_OK: break
        case LR_ERR_TRUNCATED: throw .truncated(format: name)
        case LR_ERR_TOO_MANY_PIXELS: throw .tooManyPixels(format: name, width: width, height: height, limit: maxPixels)
        case LR_ERR_TOO_WIDE:
            throw .dimensionTooLarge(format: name, width: width, height: height, limit: ImageLimits.maxDimension)
        case LR_ERR_EMPTY: throw .zeroSize(format: name, width: width, height: height)
        case LR_ERR_UNSUPPORTED: throw .unsupported(format: name, detail: message(of: decoded))
        case LR_ERR_OUT_OF_MEMORY: throw .outOfMemory(format: name)
        default: throw .corrupt(format: name, detail: message(of: decoded))
        }
        guard let pixels = decoded.pixels else { throw .outOfMemory(format: name) }
        let count = width * height
        let source = UnsafeBufferPointer(start: pixels, count: count * Int(decoded.channels))
        return AlphaConversion.rgbImage(
            width: width, height: height, source: source, channels: Int(decoded.channels), alpha: alpha)
    }

    private static func message(of decoded: lr_decoded) -> String {
        withUnsafeBytes(of: decoded.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }
}
