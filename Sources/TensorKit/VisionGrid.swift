/// The size of one image (or video) in vision patches, as the image processor reports it
/// (`image_grid_thw` in transformers): `t` frames of `h` x `w` patches of 14 x 14 pixels.
///
/// A still image has `t == 1` (its two identical frames form one temporal patch). The language model sees
/// `t * (h / m) * (w / m)` merged tokens, `m` being the spatial merge size (2 for Qwen2.5-VL). The image
/// processor (`ImageProcessing`) makes it; the model (`Qwen25VL`) checks and uses it.
public struct VisionGrid: Sendable, Hashable, Codable {
    /// Temporal patches (1 for a still image).
    public var t: Int
    /// Patch rows.
    public var h: Int
    /// Patch columns.
    public var w: Int

    /// A grid of `t` x `h` x `w` patches.
    public init(t: Int, h: Int, w: Int) {
        self.t = t
        self.h = h
        self.w = w
    }

    /// Number of patches (rows of the patch matrix fed to the vision tower).
    public var patchCount: Int { t * h * w }

    /// Number of tokens the image occupies in the language model after the spatial merge.
    public func mergedTokenCount(spatialMergeSize: Int = 2) -> Int {
        t * (h / spatialMergeSize) * (w / spatialMergeSize)
    }
}
