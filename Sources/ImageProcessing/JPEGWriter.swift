import CImageCodecs
import Foundation

/// JPEG encoding (libjpeg-turbo), for tools that send images as clients do (the serving benchmark).
public enum JPEGWriter {
    /// The image as a baseline JPEG file of `quality` (1-100).
    public static func encode(_ image: RGBImage, quality: Int = 90) throws(ImageError) -> Data {
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = image.pixels.withUnsafeBufferPointer { pixels in
            lr_encode_jpeg(
                pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(max(1, min(100, quality))),
                &bytes, &size)
        }
        defer { lr_encoded_free(bytes) }
        guard status == LR_OK, let bytes else {
            throw .invalidImage(width: image.width, height: image.height, byteCount: image.pixels.count)
        }
        return Data(bytes: bytes, count: size)
    }
}
