/// Turns decoded RGB or RGBA samples into an `RGBImage` under an `AlphaHandling` policy.
enum AlphaConversion {
    /// `source` holds width * height * channels bytes (channels 3 or 4).
    static func rgbImage(
        width: Int, height: Int, source: UnsafeBufferPointer<UInt8>, channels: Int, alpha: AlphaHandling
    ) -> RGBImage {
        let count = width * height
        let pixels = [UInt8](unsafeUninitializedCapacity: count * 3) { target, initialized in
            if channels == 3 {
                _ = target.initialize(from: source)
            } else if alpha == .drop {
                for index in 0..<count {
                    target[3 * index] = source[4 * index]
                    target[3 * index + 1] = source[4 * index + 1]
                    target[3 * index + 2] = source[4 * index + 2]
                }
            } else {
                for index in 0..<count {
                    let opacity = Int(source[4 * index + 3])
                    for channel in 0..<3 {
                        target[3 * index + channel] = blendOverWhite(Int(source[4 * index + channel]), opacity)
                    }
                }
            }
            initialized = count * 3
        }
        return RGBImage(trustedWidth: width, height: height, pixels: pixels)
    }

    /// Pillow's paste-with-mask blend of `value` over 255: round((255 * (255 - a) + value * a) / 255)
    /// computed with its shift-based division by 255.
    @inline(__always)
    static func blendOverWhite(_ value: Int, _ opacity: Int) -> UInt8 {
        let sum = 255 * (255 - opacity) + value * opacity + 128
        return UInt8(truncatingIfNeeded: ((sum >> 8) + sum) >> 8)
    }
}
