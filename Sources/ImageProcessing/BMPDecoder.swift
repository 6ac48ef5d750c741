/// Windows/OS2 bitmaps, read the way Pillow's BmpImagePlugin reads them:
/// 1/4/8-bit palette (palette expanded, indices past the palette are black), 24-bit BGR,
/// 32-bit BGRX (uncompressed) or any byte-aligned BITFIELDS layout (alpha kept only when an alpha
/// mask is given, where Pillow opens the file as RGBA). Bottom-up or top-down rows.
/// RLE, 16-bit, embedded JPEG/PNG bitmaps are refused as unsupported.
enum BMPDecoder {
    private static let name = "BMP"

    static func decode(_ bytes: UnsafeRawBufferPointer, maxPixels: Int, alpha: AlphaHandling) throws(ImageError)
        -> RGBImage
    {
        let header = try Header(bytes)
        let width = header.width
        let height = header.height
        if width == 0 || height == 0 { throw .zeroSize(format: name, width: width, height: height) }
        if width > ImageLimits.maxDimension || height > ImageLimits.maxDimension {
            throw .dimensionTooLarge(format: name, width: width, height: height, limit: ImageLimits.maxDimension)
        }
        if width * height > maxPixels {
            throw .tooManyPixels(format: name, width: width, height: height, limit: maxPixels)
        }
        let stride = (header.bitsPerPixel * width + 31) / 32 * 4
        guard header.pixelOffset >= 0, header.pixelOffset + stride * height <= bytes.count else {
            throw .truncated(format: name)
        }
        let channels = header.layout.hasAlpha ? 4 : 3
        let count = width * height
        let samples = [UInt8](unsafeUninitializedCapacity: count * channels) { target, initialized in
            for row in 0..<height {
                let sourceRow = header.topDown ? row : height - 1 - row
                let rowStart = header.pixelOffset + sourceRow * stride
                for x in 0..<width {
                    let pixel = row * width + x
                    header.layout.read(bytes, rowStart: rowStart, x: x, into: target, at: pixel * channels)
                }
            }
            initialized = count * channels
        }
        return samples.withUnsafeBufferPointer { source in
            AlphaConversion.rgbImage(width: width, height: height, source: source, channels: channels, alpha: alpha)
        }
    }

    /// How one pixel is stored.
    enum Layout {
        case palette(bits: Int, colors: [UInt8])  // colors: RGB triples
        case bgr24
        /// 32-bit pixels: byte positions (0...3, little-endian) of R, G, B and optionally A.
        case bytes32(red: Int, green: Int, blue: Int, alpha: Int?)

        var hasAlpha: Bool {
            if case .bytes32(_, _, _, let alpha) = self { return alpha != nil }
            return false
        }

        @inline(__always)
        func read(
            _ bytes: UnsafeRawBufferPointer, rowStart: Int, x: Int, into target: UnsafeMutableBufferPointer<UInt8>,
            at offset: Int
        ) {
            switch self {
            case .palette(let bits, let colors):
                let bitOffset = x * bits
                let byte = Int(bytes[rowStart + bitOffset / 8])
                let index = (byte >> (8 - bits - bitOffset % 8)) & ((1 << bits) - 1)
                if 3 * index + 2 < colors.count {
                    target[offset] = colors[3 * index]
                    target[offset + 1] = colors[3 * index + 1]
                    target[offset + 2] = colors[3 * index + 2]
                } else {
                    target[offset] = 0
                    target[offset + 1] = 0
                    target[offset + 2] = 0
                }
            case .bgr24:
                let base = rowStart + 3 * x
                target[offset] = bytes[base + 2]
                target[offset + 1] = bytes[base + 1]
                target[offset + 2] = bytes[base]
            case .bytes32(let red, let green, let blue, let alpha):
                let base = rowStart + 4 * x
                target[offset] = bytes[base + red]
                target[offset + 1] = bytes[base + green]
                target[offset + 2] = bytes[base + blue]
                if let alpha { target[offset + 3] = bytes[base + alpha] }
            }
        }
    }

    /// The file and DIB headers, validated.
    struct Header {
        var width = 0
        var height = 0
        var topDown = false
        var bitsPerPixel = 0
        var pixelOffset = 0
        var layout = Layout.bgr24

        init(_ bytes: UnsafeRawBufferPointer) throws(ImageError) {
            func u16(_ at: Int) throws(ImageError) -> Int {
                guard at + 2 <= bytes.count else { throw .truncated(format: BMPDecoder.name) }
                return Int(bytes[at]) | Int(bytes[at + 1]) << 8
            }
            func u32(_ at: Int) throws(ImageError) -> Int {
                guard at + 4 <= bytes.count else { throw .truncated(format: BMPDecoder.name) }
                return Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
            }
            func s32(_ at: Int) throws(ImageError) -> Int { Int(Int32(truncatingIfNeeded: try u32(at))) }

            pixelOffset = try u32(10)
            let dibSize = try u32(14)
            var compression = 0
            var colorsUsed = 0
            var paletteEntrySize = 4
            if dibSize == 12 {
                width = try u16(18)
                height = try u16(20)
                bitsPerPixel = try u16(24)
                paletteEntrySize = 3
            } else if dibSize >= 40 && dibSize <= 1024 {
                width = try s32(18)
                let signedHeight = try s32(22)
                topDown = signedHeight < 0
                height = signedHeight.magnitude > Int32.max ? -1 : Int(signedHeight.magnitude)
                bitsPerPixel = try u16(28)
                compression = try u32(30)
                colorsUsed = try u32(46)
            } else {
                throw .unsupported(format: BMPDecoder.name, detail: "DIB header of \(dibSize) bytes")
            }
            guard width >= 0, height >= 0 else {
                throw .corrupt(format: BMPDecoder.name, detail: "negative width or height in the header")
            }
            switch (compression, bitsPerPixel) {
            case (0, 1), (0, 4), (0, 8):
                let colors = colorsUsed == 0 ? 1 << bitsPerPixel : colorsUsed
                guard colors <= 1 << bitsPerPixel else {
                    throw .corrupt(
                        format: BMPDecoder.name, detail: "palette of \(colors) colors for \(bitsPerPixel)-bit pixels")
                }
                let paletteStart = 14 + dibSize
                guard paletteStart + colors * paletteEntrySize <= bytes.count else {
                    throw .truncated(format: BMPDecoder.name)
                }
                var rgb = [UInt8](repeating: 0, count: colors * 3)
                for index in 0..<colors {
                    let entry = paletteStart + index * paletteEntrySize
                    rgb[3 * index] = bytes[entry + 2]
                    rgb[3 * index + 1] = bytes[entry + 1]
                    rgb[3 * index + 2] = bytes[entry]
                }
                layout = .palette(bits: bitsPerPixel, colors: rgb)
            case (0, 24):
                layout = .bgr24
            case (0, 32):
                layout = .bytes32(red: 2, green: 1, blue: 0, alpha: nil)
            case (3, 32):
                let masksAt = dibSize >= 52 ? 14 + 40 : 14 + dibSize
                let red = try u32(masksAt), green = try u32(masksAt + 4), blue = try u32(masksAt + 8)
                let alphaMask = dibSize >= 56 ? try u32(masksAt + 12) : 0
                guard let r = Self.bytePosition(red), let g = Self.bytePosition(green), let b = Self.bytePosition(blue)
                else {
                    throw .unsupported(
                        format: BMPDecoder.name, detail: "32-bit bitfields layout that is not byte-aligned")
                }
                let a = alphaMask == 0 ? nil : Self.bytePosition(alphaMask)
                if alphaMask != 0 && a == nil {
                    throw .unsupported(format: BMPDecoder.name, detail: "alpha bitfield that is not byte-aligned")
                }
                layout = .bytes32(red: r, green: g, blue: b, alpha: a)
            case (1, _), (2, _):
                throw .unsupported(format: BMPDecoder.name, detail: "RLE-compressed bitmap")
            default:
                throw .unsupported(
                    format: BMPDecoder.name, detail: "\(bitsPerPixel)-bit pixels with compression \(compression)")
            }
        }

        /// 0xFF shifted by a whole number of bytes -> that byte's position; anything else -> nil.
        private static func bytePosition(_ mask: Int) -> Int? {
            for position in 0..<4 where mask == 0xFF << (8 * position) { return position }
            return nil
        }
    }
}
