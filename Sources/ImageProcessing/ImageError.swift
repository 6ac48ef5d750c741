/// Everything that can go wrong between image bytes and model-ready patches.
///
/// Each message says what was wrong and what the user can do about it.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// The data is empty.
    case emptyData
    /// The leading bytes match none of the supported formats.
    case unknownFormat(leadingBytes: String)
    /// The data ends before the image does.
    case truncated(format: String)
    /// The data is not a valid image of its format.
    case corrupt(format: String, detail: String)
    /// A valid file that uses a feature this decoder does not handle.
    case unsupported(format: String, detail: String)
    /// The header declares a zero width or height.
    case zeroSize(format: String, width: Int, height: Int)
    /// width x height is above the decoding limit (a decompression bomb or simply too large).
    case tooManyPixels(format: String, width: Int, height: Int, limit: Int)
    /// One side is above the largest side we accept.
    case dimensionTooLarge(format: String, width: Int, height: Int, limit: Int)
    /// Pixel memory could not be allocated.
    case outOfMemory(format: String)
    /// The longer side is more than 200 times the shorter one.
    case aspectRatioTooLarge(width: Int, height: Int)
    /// The min/max pixel settings of the preprocessor are unusable.
    case invalidPixelLimits(minPixels: Int, maxPixels: Int)
    /// An `RGBImage` whose buffer does not hold width x height x 3 bytes, or has a zero side.
    case invalidImage(width: Int, height: Int, byteCount: Int)
    /// The file could not be read.
    case unreadableFile(path: String, reason: String)
    /// A decoding error, with the file it came from.
    indirect case inFile(path: String, ImageError)

    public var description: String {
        switch self {
        case .emptyData:
            return "image data is empty; pass the bytes of a JPEG, PNG, WebP, GIF or BMP file"
        case .unknownFormat(let bytes):
            return
                "unknown image format (file starts with \(bytes)); supported formats are JPEG, PNG, WebP, GIF and BMP"
        case .truncated(let format):
            return "\(format) file is truncated (the data ends before the image does); re-download or re-export it"
        case .corrupt(let format, let detail):
            return "\(format) file is corrupt: \(detail); re-export the image"
        case .unsupported(let format, let detail):
            return "\(format) file uses a feature that is not supported: \(detail); convert it to PNG or JPEG"
        case .zeroSize(let format, let width, let height):
            return "\(format) image has zero size (\(width)x\(height)); an image needs at least one pixel"
        case .tooManyPixels(let format, let width, let height, let limit):
            return "\(format) image is \(width)x\(height) = \(width * height) pixels, above the limit of \(limit) "
                + "(possible decompression bomb); shrink the image or raise the pixel limit"
        case .dimensionTooLarge(let format, let width, let height, let limit):
            return "\(format) image is \(width)x\(height); a side above \(limit) pixels is refused; shrink the image"
        case .outOfMemory(let format):
            return "not enough memory to decode the \(format) image; shrink the image"
        case .aspectRatioTooLarge(let width, let height):
            let ratio = Double(max(width, height)) / Double(min(width, height))
            return
                "image is \(width)x\(height), aspect ratio \(ratio) is above 200; crop or pad it to a ratio of at most 200"
        case .invalidPixelLimits(let minPixels, let maxPixels):
            return "invalid pixel limits min=\(minPixels) max=\(maxPixels); both must be positive and min <= max"
        case .invalidImage(let width, let height, let byteCount):
            return
                "RGB image \(width)x\(height) needs \(width * height * 3) bytes of pixels and a non-zero size, got \(byteCount) bytes"
        case .unreadableFile(let path, let reason):
            return "cannot read image file \(path): \(reason)"
        case .inFile(let path, let error):
            return "\(path): \(error.description)"
        }
    }
}
