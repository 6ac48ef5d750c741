import Foundation
import ImageProcessing

/// The pixel cap the image targets decode under: large enough for every seed, small enough that a header
/// declaring a huge image is refused before it costs the fuzzer seconds and gigabytes.
public let fuzzPixelCap = 1_000_000

/// Runs one fuzz input through `ImageDecoder.decodeWithFormat` as `format`.
///
/// The input's leading bytes are overwritten with `format`'s signature (see ``pinSignature(_:to:)``), so that
/// mutations spend their time inside that decoder instead of in format sniffing. Every accepted image must have
/// the size it claims and must have been decoded as `format`; every refusal must be an `ImageError` whose message
/// can be rendered. (Preprocessing is left out: its resize costs a hundred times the decoding, and it only ever
/// sees valid images.)
public func fuzzImageDecoder(_ start: UnsafePointer<UInt8>?, _ count: Int, as format: ImageFormat) {
    let input = UnsafeBufferPointer(start: start, count: start == nil ? 0 : count)
    let data = pinSignature(input, to: format)
    let alpha: AlphaHandling = count % 2 == 0 ? .drop : .compositeOnWhite
    let decoded: (image: RGBImage, format: ImageFormat)
    do {
        decoded = try ImageDecoder.decodeWithFormat(data, maxPixels: fuzzPixelCap, alpha: alpha)
    } catch {
        _ = error.description
        return
    }
    let image = decoded.image
    precondition(decoded.format == format, "\(format) input decoded as \(decoded.format)")
    precondition(image.width > 0 && image.height > 0, "decoded a \(image.width)x\(image.height) image")
    precondition(image.width * image.height <= fuzzPixelCap, "decoded past the pixel cap")
    precondition(image.pixels.count == image.width * image.height * 3, "pixel buffer does not match the size")
}

/// `input` with `format`'s signature written over its first bytes (the input is extended when shorter than the
/// signature). WebP's signature has a gap: bytes 4-7 hold the RIFF size and are kept.
public func pinSignature(_ input: UnsafeBufferPointer<UInt8>, to format: ImageFormat) -> Data {
    var bytes = [UInt8](input)
    let signature: [(offset: Int, bytes: [UInt8])]
    switch format {
    case .jpeg: signature = [(0, [0xFF, 0xD8, 0xFF])]
    case .png: signature = [(0, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])]
    case .webp: signature = [(0, Array("RIFF".utf8)), (8, Array("WEBP".utf8))]
    case .gif: signature = [(0, Array(bytes.starts(with: Array("GIF87a".utf8)) ? "GIF87a".utf8 : "GIF89a".utf8))]
    case .bmp: signature = [(0, Array("BM".utf8))]
    }
    for (offset, part) in signature {
        if bytes.count < offset + part.count { bytes += [UInt8](repeating: 0, count: offset + part.count - bytes.count) }
        bytes.replaceSubrange(offset..<(offset + part.count), with: part)
    }
    return Data(bytes)
}
