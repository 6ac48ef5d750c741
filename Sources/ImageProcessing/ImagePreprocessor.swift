import TensorKit

/// What the vision tower takes for one image: the resized image and its patch grid.
///
/// The patch rows themselves are cut where they are used: on the model's device by
/// `Backend.patchify(_:layout:)` from ``patchifySource`` (3 bytes a pixel cross to the device, not 24),
/// or on the host by ``pixelValues()``.
public struct PreprocessedImage: Sendable {
    /// The patch grid.
    public let grid: VisionGrid
    /// The resized image the patches are cut from.
    public let resized: RGBImage

    /// `<|image_pad|>` tokens this image takes in the prompt: patches / (2 * 2).
    public var mergedTokenCount: Int { grid.patchCount / (ImagePreprocessor.mergeSize * ImagePreprocessor.mergeSize) }

    /// The resized pixels and grid as `Backend.patchify(_:layout:)` takes them, with
    /// ``ImagePreprocessor/patchLayout`` (the pixels are shared, not copied).
    public var patchifySource: PatchifySource {
        PatchifySource(
            pixels: resized.pixels, width: resized.width, height: resized.height, gridHeight: grid.h, gridWidth: grid.w)
    }

    /// The `grid.patchCount` rows of `ImagePreprocessor.patchValueCount` normalised floats, row-major, that
    /// transformers' processor returns as `pixel_values` (computed on each call: 24 bytes a pixel).
    ///
    /// - Throws: never for an image ``ImagePreprocessor/process(_:)`` made (its sides are whole merge blocks).
    public func pixelValues() throws(TensorError) -> [Float] {
        try patchifySource.patchRows(layout: ImagePreprocessor.patchLayout)
    }
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

    /// Resizes one image and computes its patch grid (``PreprocessedImage/pixelValues()`` normalises and
    /// patchifies it on the host, `Backend.patchify(_:layout:)` on a device).
    public func process(_ image: RGBImage) throws(ImageError) -> PreprocessedImage {
        let resized = try resize(image)
        let grid = VisionGrid(t: 1, h: resized.height / Self.patchSize, w: resized.width / Self.patchSize)
        return PreprocessedImage(grid: grid, resized: resized)
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

    /// Qwen2-VL's patches (14 pixels, 2 x 2 merge blocks, 2 frames) and CLIP normalisation: what
    /// `Backend.patchify(_:layout:)` and ``PreprocessedImage/pixelValues()`` take.
    public static let patchLayout = PatchifyLayout(
        patchSize: patchSize, mergeSize: mergeSize, temporalPatchSize: temporalPatchSize,
        normalization: normalizedLookup)

    /// The patch rows of `image` cut by `grid` with ``patchLayout``: rows in merge-block order (block row,
    /// block col, sub row, sub col); each row is [channel][frame][py][px] with the still image repeated in
    /// both frames.
    static func patchify(_ image: RGBImage, grid: VisionGrid) throws(TensorError) -> [Float] {
        try PatchifySource(
            pixels: image.pixels, width: image.width, height: image.height, gridHeight: grid.h, gridWidth: grid.w
        ).patchRows(layout: patchLayout)
    }
}
