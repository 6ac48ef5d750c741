/// A patch grid in vision patches of 14 x 14 pixels: t frames (pairs of frames), h rows, w columns.
public struct GridTHW: Sendable, Hashable, Codable {
    public let t: Int
    public let h: Int
    public let w: Int

    public init(t: Int, h: Int, w: Int) {
        self.t = t
        self.h = h
        self.w = w
    }

    /// t * h * w: rows of `pixelValues`, tokens before the 2x2 merge.
    public var patchCount: Int { t * h * w }
}

/// What the vision tower takes for one image.
public struct PreprocessedImage: Sendable {
    /// The patch grid.
    public let grid: GridTHW
    /// `grid.patchCount` rows of `ImagePreprocessor.patchValueCount` floats, row-major.
    public let pixelValues: [Float]
    /// The resized image the patches were cut from.
    public let resized: RGBImage

    /// `<|image_pad|>` tokens this image takes in the prompt: patches / (2 * 2).
    public var mergedTokenCount: Int { grid.patchCount / (ImagePreprocessor.mergeSize * ImagePreprocessor.mergeSize) }
}

/// Qwen2-VL's image processor (transformers' slow PIL path after `qwen_vl_utils.fetch_image`):
/// smart resize with Pillow's bicubic filter, x / 255, CLIP mean/std normalisation, 2-frame patches in
/// 2x2 merge-block order.
public struct ImagePreprocessor: Sendable {
    public static let patchSize = 14
    public static let mergeSize = 2
    public static let temporalPatchSize = 2
    /// Floats per patch row: 3 channels x 2 frames x 14 x 14.
    public static let patchValueCount = 3 * temporalPatchSize * patchSize * patchSize
    /// CLIP normalisation constants used by Qwen2-VL.
    public static let imageMean: [Double] = [0.48145466, 0.4578275, 0.40821073]
    public static let imageStd: [Double] = [0.26862954, 0.26130258, 0.27577711]

    public let minPixels: Int
    public let maxPixels: Int

    /// Lychee's limits by default: 4 * 28 * 28 and 1280 * 28 * 28 pixels.
    public init(minPixels: Int = 3136, maxPixels: Int = 1_003_520) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }

    /// The size the image is resized to: `qwen_vl_utils`' rule, then the processor's own rule on its
    /// result (which changes nothing unless the first result is out of range).
    public func targetSize(height: Int, width: Int) throws(ImageError) -> (height: Int, width: Int) {
        let factor = Self.patchSize * Self.mergeSize
        let first = try smartResize(height: height, width: width, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
        return try processorSmartResize(
            height: first.height, width: first.width, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
    }

    /// Resizes, normalises and patchifies one image.
    public func process(_ image: RGBImage) throws(ImageError) -> PreprocessedImage {
        let resized = try resize(image)
        let grid = GridTHW(t: 1, h: resized.height / Self.patchSize, w: resized.width / Self.patchSize)
        return PreprocessedImage(grid: grid, pixelValues: Self.patchify(resized, grid: grid), resized: resized)
    }

    /// The two bicubic resizes of the reference pipeline (the second is usually skipped).
    public func resize(_ image: RGBImage) throws(ImageError) -> RGBImage {
        let factor = Self.patchSize * Self.mergeSize
        let first = try smartResize(
            height: image.height, width: image.width, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
        let once = BicubicResampler.resize(image, width: first.width, height: first.height)
        let second = try processorSmartResize(
            height: first.height, width: first.width, factor: factor, minPixels: minPixels, maxPixels: maxPixels)
        return BicubicResampler.resize(once, width: second.width, height: second.height)
    }

    /// Per channel and byte value: Float(Float(Double(v) * (1/255)) - mean) / std, in float32 as
    /// transformers computes it (rescale in float64 then cast, normalise in float32).
    static let normalizedLookup: [Float] = {
        var table = [Float](repeating: 0, count: 3 * 256)
        let rescale = 1.0 / 255.0
        for channel in 0..<3 {
            let mean = Float(imageMean[channel])
            let std = Float(imageStd[channel])
            for value in 0..<256 {
                let scaled = Float(Double(value) * rescale)
                table[channel * 256 + value] = (scaled - mean) / std
            }
        }
        return table
    }()

    /// Rows in merge-block order (block row, block col, sub row, sub col); each row is
    /// [channel][frame][py][px] with the still image repeated in both frames.
    static func patchify(_ image: RGBImage, grid: GridTHW) -> [Float] {
        let patch = patchSize
        let merge = mergeSize
        let rowLength = patchValueCount
        let frameLength = patch * patch
        let lookup = normalizedLookup
        return [Float](unsafeUninitializedCapacity: grid.patchCount * rowLength) { output, initialized in
            let output = output.baseAddress!
            lookup.withUnsafeBufferPointer { lookup in
            image.pixels.withUnsafeBufferPointer { pixels in
                var row = 0
                for blockRow in 0..<(grid.h / merge) {
                    for blockColumn in 0..<(grid.w / merge) {
                        for subRow in 0..<merge {
                            for subColumn in 0..<merge {
                                let top = (blockRow * merge + subRow) * patch
                                let left = (blockColumn * merge + subColumn) * patch
                                let base = row * rowLength
                                for py in 0..<patch {
                                    let pixelRow = ((top + py) * image.width + left) * 3
                                    for px in 0..<patch {
                                        for channel in 0..<3 {
                                            let value = lookup[channel * 256 + Int(pixels[pixelRow + px * 3 + channel])]
                                            let offset = base + channel * temporalPatchSize * frameLength + py * patch + px
                                            output[offset] = value
                                            output[offset + frameLength] = value
                                        }
                                    }
                                }
                                row += 1
                            }
                        }
                    }
                }
            }
            }
            initialized = grid.patchCount * rowLength
        }
    }
}
