import TensorKit

extension VisionGrid {
    /// Throws unless every side is positive and `h`, `w` are multiples of the merge size.
    ///
    /// Also rejects grids so large that patch indices would not fit in `Int32`.
    public func validate(spatialMergeSize: Int = 2) throws(PositionError) {
        guard spatialMergeSize > 0 else { throw .invalidParameter("spatial merge size \(spatialMergeSize)") }
        guard t > 0, h > 0, w > 0, h % spatialMergeSize == 0, w % spatialMergeSize == 0 else {
            throw .invalidGrid(self, spatialMergeSize: spatialMergeSize)
        }
        let (hw, o1) = h.multipliedReportingOverflow(by: w)
        let (thw, o2) = hw.multipliedReportingOverflow(by: t)
        guard !o1, !o2, thw <= Int(Int32.max) else { throw .tooManyPatches(thw) }
    }
}

/// Checks a list of grids and returns the total patch count, guarding against `Int32` overflow.
func validatedPatchTotal(_ grids: [VisionGrid], spatialMergeSize: Int) throws(PositionError) -> Int {
    var total = 0
    for grid in grids {
        try grid.validate(spatialMergeSize: spatialMergeSize)
        total += grid.patchCount
        guard total <= Int(Int32.max) else { throw .tooManyPatches(total) }
    }
    return total
}

/// Bad input to the position helpers (rope index, vision positions, window index).
public enum PositionError: Error, CustomStringConvertible, Equatable {
    /// A grid side is not positive or not a multiple of the spatial merge size.
    case invalidGrid(VisionGrid, spatialMergeSize: Int)
    /// The images hold more patches than an `Int32` index can address.
    case tooManyPatches(Int)
    /// A size parameter (merge size, window size, patch size) is unusable.
    case invalidParameter(String)
    /// The token ids hold a different number of image blocks than grids were given.
    case imageCountMismatch(blocksInTokens: Int, grids: Int)
    /// Image `index` expects `expected` consecutive image-pad tokens at `start`, but the run differs.
    case imageTokenRunMismatch(index: Int, start: Int, expected: Int, found: Int)
    /// The token ids hold a video block; only still images are supported.
    case videoNotSupported(position: Int)

    public var description: String {
        switch self {
        case let .invalidGrid(grid, merge):
            return "Invalid image grid t=\(grid.t) h=\(grid.h) w=\(grid.w): every side must be positive and h, w "
                + "multiples of the spatial merge size \(merge). Use the grid the image preprocessor returned."
        case let .tooManyPatches(count):
            return "The images hold \(count) patches, more than \(Int32.max) can index; send fewer or smaller images."
        case let .invalidParameter(what):
            return "Unusable vision parameter (\(what)); check the model's vision_config."
        case let .imageCountMismatch(blocks, grids):
            return "The token ids contain \(blocks) image block(s) (<|vision_start|><|image_pad|>...) but "
                + "\(grids) image grid(s) were given; pass exactly one grid per image, in order."
        case let .imageTokenRunMismatch(index, start, expected, found):
            return "Image \(index) should occupy \(expected) consecutive <|image_pad|> tokens from position "
                + "\(start), but \(found) were found; expand each image placeholder to its merged token count."
        case let .videoNotSupported(position):
            return "The token ids contain a video block at position \(position); only still images are supported."
        }
    }
}
