import Foundation

/// 24-bit BMP encoding (lossless, readable by Pillow), for handing the bench images to the reference.
public enum BMPWriter {
    /// The image as a bottom-up 24-bit BMP file.
    public static func encode(_ image: RGBImage) -> Data {
        let rowBytes = (image.width * 3 + 3) / 4 * 4
        let pixelBytes = rowBytes * image.height
        var data = Data()
        func le32(_ v: Int) {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: v).littleEndian) { data.append(contentsOf: $0) }
        }
        func le16(_ v: Int) {
            withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { data.append(contentsOf: $0) }
        }
        data.append(contentsOf: [0x42, 0x4D])
        le32(54 + pixelBytes); le32(0); le32(54)
        le32(40); le32(image.width); le32(image.height); le16(1); le16(24); le32(0); le32(pixelBytes)
        le32(2835); le32(2835); le32(0); le32(0)
        var row = [UInt8](repeating: 0, count: rowBytes)
        for y in stride(from: image.height - 1, through: 0, by: -1) {
            for x in 0..<image.width {
                let base = (y * image.width + x) * 3
                row[x * 3] = image.pixels[base + 2]
                row[x * 3 + 1] = image.pixels[base + 1]
                row[x * 3 + 2] = image.pixels[base]
            }
            data.append(contentsOf: row)
        }
        return data
    }
}
