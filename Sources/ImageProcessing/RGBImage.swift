/// An 8-bit RGB image, pixels interleaved row by row (R, G, B, R, G, B, ...).
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// `width * height * 3` bytes, top row first.
    public let pixels: [UInt8]

    /// Wraps a pixel buffer; throws when the buffer size does not match or a side is zero.
    public init(width: Int, height: Int, pixels: [UInt8]) throws(ImageError) {
        guard width > 0, height > 0, width.multipliedReportingOverflow(by: height).partialValue * 3 == pixels.count
        else { throw .invalidImage(width: width, height: height, byteCount: pixels.count) }
        self.init(trustedWidth: width, height: height, pixels: pixels)
    }

    /// For buffers this module built itself with the right size.
    init(trustedWidth width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Limits applied while decoding untrusted images.
public enum ImageLimits {
    /// Pillow's `Image.MAX_IMAGE_PIXELS` (89,478,485): larger images are refused before decoding.
    public static let defaultMaxDecodedPixels = 89_478_485
    /// No side may exceed this many pixels, whatever the pixel limit.
    public static let maxDimension = 100_000
}

/// What to do with an alpha channel when turning an image into RGB.
public enum AlphaHandling: Sendable {
    /// Drop alpha, keep the stored colour: Pillow's `Image.convert("RGB")` (the default).
    case drop
    /// Blend RGBA images over white as `qwen_vl_utils.fetch_image` 0.0.14 does (its `to_rgb`): applies
    /// only to images Pillow opens as "RGBA" (PNG RGBA, 16-bit gray+alpha PNG, WebP with alpha, BMP with
    /// an alpha mask); other modes still drop alpha, as `convert("RGB")` does.
    case compositeOnWhite
}
