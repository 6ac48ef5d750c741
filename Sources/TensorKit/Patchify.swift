/// One image for ``Backend/patchify(_:layout:)``: its resized 8-bit RGB pixels and its patch grid.
///
/// Plain values, so that TensorKit needs no image library: the pixels are an `RGBImage`'s bytes after the
/// smart resize (shared with it, not copied: 3 bytes a pixel, against 2 x 3 x 4 bytes a pixel for the
/// fp32 patch rows they become).
public struct PatchifySource: Sendable {
    /// `width * height * 3` bytes: R, G, B of each pixel, row by row, top row first.
    public let pixels: [UInt8]
    /// Width in pixels: `gridWidth * patchSize`.
    public let width: Int
    /// Height in pixels: `gridHeight * patchSize`.
    public let height: Int
    /// Patch rows (the grid's h).
    public let gridHeight: Int
    /// Patch columns (the grid's w).
    public let gridWidth: Int

    /// An image of `width` x `height` pixels cut into `gridHeight` x `gridWidth` patches. Nothing is checked
    /// here: ``OpChecks/patchify(_:layout:)`` checks the sizes against a layout.
    public init(pixels: [UInt8], width: Int, height: Int, gridHeight: Int, gridWidth: Int) {
        self.pixels = pixels
        self.width = width
        self.height = height
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
    }

    /// Patch rows the image becomes (one temporal patch: a still image).
    public var patchCount: Int { gridHeight * gridWidth }
}

/// How ``Backend/patchify(_:layout:)`` cuts images into patch rows, and the value each byte becomes.
///
/// For Qwen2-VL: 14-pixel patches, 2 x 2 merge blocks, 2 temporal frames (rows of 3 x 2 x 14 x 14 = 1176
/// values), and a byte's value normalised per channel as the image processor does (`ImagePreprocessor`
/// builds the table).
public struct PatchifyLayout: Sendable, Equatable {
    /// Colour channels of the pixels (R, G, B).
    public static let channels = 3

    /// Side of a square patch in pixels.
    public let patchSize: Int
    /// Side of a merge block in patches: an image's rows go block by block.
    public let mergeSize: Int
    /// Frames per patch row; a still image fills every frame with itself.
    public let temporalPatchSize: Int
    /// `channels * 256` values: byte `v` of channel `c` becomes `normalization[c * 256 + v]`.
    public let normalization: [Float]

    public init(patchSize: Int, mergeSize: Int, temporalPatchSize: Int, normalization: [Float]) {
        self.patchSize = patchSize
        self.mergeSize = mergeSize
        self.temporalPatchSize = temporalPatchSize
        self.normalization = normalization
    }

    /// Values per patch row: channels x frames x patchSize x patchSize, laid out in that order.
    public var rowWidth: Int { Self.channels * temporalPatchSize * patchSize * patchSize }
}

extension OpChecks {
    /// Checks the layout and every image against it (pixel count, sides of whole patches, grid sides of
    /// whole merge blocks); returns the number of patch rows of all images.
    public static func patchify(_ images: [PatchifySource], layout: PatchifyLayout) throws(TensorError) -> Int {
        let (patch, merge) = (layout.patchSize, layout.mergeSize)
        guard patch > 0, merge > 0, layout.temporalPatchSize > 0, patch <= 1 << 10, layout.temporalPatchSize <= 1 << 10,
            layout.rowWidth <= 1 << 24, layout.normalization.count == PatchifyLayout.channels * 256
        else {
            throw .shapeMismatch(
                op: "patchify",
                detail:
                    "the layout needs patch and temporal sizes in 1...1024 (got \(patch) and \(layout.temporalPatchSize)), "
                    + "a positive merge size (got \(merge)), rows of at most 2^24 values and "
                    + "\(PatchifyLayout.channels * 256) normalisation values (got \(layout.normalization.count))")
        }
        var rows = 0
        for (index, image) in images.enumerated() {
            let (h, w) = (image.gridHeight, image.gridWidth)
            // Sides of at most 2^20 pixels keep every index of the device kernel in 32 bits.
            let sides =
                h > 0 && w > 0 && h % merge == 0 && w % merge == 0 && h <= (1 << 20) / patch
                && w <= (1 << 20) / patch
            guard sides, image.height == h * patch, image.width == w * patch,
                image.pixels.count == image.width * image.height * PatchifyLayout.channels
            else {
                throw .shapeMismatch(
                    op: "patchify",
                    detail:
                        "image \(index) is \(image.width)x\(image.height) pixels (\(image.pixels.count) bytes) with a "
                        + "\(h)x\(w) patch grid; it must be the grid's size in \(patch)-pixel patches, 3 bytes a pixel, "
                        + "the grid's sides whole \(merge)x\(merge) merge blocks")
            }
            let (sum, overflow) = rows.addingReportingOverflow(h * w)
            guard !overflow, sum <= Int(Int32.max) else { throw .invalidShape([sum, layout.rowWidth]) }
            rows = sum
        }
        return rows
    }
}

extension PatchifySource {
    /// The image's patch rows on the host, in fp32: `patchCount x layout.rowWidth` values, row-major, as
    /// ``Backend/patchify(_:layout:)`` lays them out (the one implementation of that order on the host).
    ///
    /// - Throws: ``TensorError/shapeMismatch(op:detail:)`` when the image does not fit the layout.
    public func patchRows(layout: PatchifyLayout) throws(TensorError) -> [Float] {
        _ = try OpChecks.patchify([self], layout: layout)
        return HostPatchify.rows(of: self, layout: layout)
    }
}

/// The host loop behind ``PatchifySource/patchRows(layout:)`` and the default ``Backend/patchify(_:layout:)``.
enum HostPatchify {
    /// Rows in merge-block order (block row, block column, sub row, sub column); each row is
    /// [channel][frame][py][px] with the still image repeated in every frame. The image has been checked.
    static func rows(of image: PatchifySource, layout: PatchifyLayout) -> [Float] {
        let patch = layout.patchSize, merge = layout.mergeSize, frames = layout.temporalPatchSize
        let rowLength = layout.rowWidth, frameLength = patch * patch, channelLength = frames * frameLength
        let channels = PatchifyLayout.channels
        return [Float](unsafeUninitializedCapacity: image.patchCount * rowLength) { output, initialized in
            guard let output = output.baseAddress else { return }
            layout.normalization.withUnsafeBufferPointer { lookup in
                image.pixels.withUnsafeBufferPointer { pixels in
                    var row = 0
                    for blockRow in 0..<(image.gridHeight / merge) {
                        for blockColumn in 0..<(image.gridWidth / merge) {
                            for subRow in 0..<merge {
                                for subColumn in 0..<merge {
                                    let top = (blockRow * merge + subRow) * patch
                                    let left = (blockColumn * merge + subColumn) * patch
                                    let base = row * rowLength
                                    for py in 0..<patch {
                                        let pixelRow = ((top + py) * image.width + left) * channels
                                        for px in 0..<patch {
                                            for channel in 0..<channels {
                                                let value = lookup[
                                                    channel * 256 + Int(pixels[pixelRow + px * channels + channel])]
                                                let offset = base + channel * channelLength + py * patch + px
                                                for frame in 0..<frames { output[offset + frame * frameLength] = value }
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
            initialized = image.patchCount * rowLength
        }
    }
}
