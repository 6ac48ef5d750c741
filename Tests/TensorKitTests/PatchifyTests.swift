import TensorKit
import Testing

@Suite("Patch rows from 8-bit RGB images")
struct PatchifyTests {
    /// Byte `v` of channel `c` becomes `1000 c + v`: every value names its channel and byte.
    static let table: [Float] = (0..<(3 * 256)).map { (index: Int) -> Float in
        let (channel, byte) = index.quotientAndRemainder(dividingBy: 256)
        return Float(channel * 1000 + byte)
    }

    static func image(width: Int, height: Int, patch: Int, seed: UInt64) -> PatchifySource {
        var generator = SeededGenerator(seed: seed)
        let pixels = (0..<(width * height * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return PatchifySource(
            pixels: pixels, width: width, height: height, gridHeight: height / patch, gridWidth: width / patch)
    }

    /// The rows written pixel by pixel (the transpose transformers' processor does): pixel (y, x) lies in
    /// patch (y / p, x / p), whose row is its merge block's first row plus its place inside the block.
    static func expectedRows(_ image: PatchifySource, layout: PatchifyLayout) -> [Float] {
        let (p, m, frames) = (layout.patchSize, layout.mergeSize, layout.temporalPatchSize)
        var rows = [Float](repeating: .nan, count: image.patchCount * layout.rowWidth)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let (patchRow, patchColumn) = (y / p, x / p)
                let block = (patchRow / m) * (image.gridWidth / m) + patchColumn / m
                let row = block * m * m + (patchRow % m) * m + patchColumn % m
                for channel in 0..<3 {
                    let value = layout.normalization[
                        channel * 256 + Int(image.pixels[(y * image.width + x) * 3 + channel])]
                    for frame in 0..<frames {
                        let column = ((channel * frames + frame) * p + y % p) * p + x % p
                        rows[row * layout.rowWidth + column] = value
                    }
                }
            }
        }
        return rows
    }

    @Test(
        "rows follow the merge blocks and repeat the image in every frame",
        arguments: [(14, 2, 2, 56, 28), (14, 2, 2, 28, 84), (3, 2, 3, 12, 6), (5, 1, 1, 10, 15), (2, 3, 2, 12, 6)])
    func rowOrder(patch: Int, merge: Int, frames: Int, width: Int, height: Int) throws {
        let layout = PatchifyLayout(
            patchSize: patch, mergeSize: merge, temporalPatchSize: frames, normalization: Self.table)
        let image = Self.image(width: width, height: height, patch: patch, seed: UInt64(width * 31 + height))
        #expect(layout.rowWidth == 3 * frames * patch * patch)
        #expect(try OpChecks.patchify([image, image], layout: layout) == 2 * image.patchCount)
        #expect(try image.patchRows(layout: layout) == Self.expectedRows(image, layout: layout))
    }

    @Test("images and layouts that do not fit are refused with the reason")
    func refusals() throws {
        let layout = PatchifyLayout(patchSize: 14, mergeSize: 2, temporalPatchSize: 2, normalization: Self.table)
        let good = Self.image(width: 28, height: 56, patch: 14, seed: 1)
        let cases: [PatchifySource] = [
            // a byte short
            PatchifySource(pixels: Array(good.pixels.dropLast()), width: 28, height: 56, gridHeight: 4, gridWidth: 2),
            // sides that are not the grid's
            PatchifySource(pixels: good.pixels, width: 56, height: 28, gridHeight: 4, gridWidth: 2),
            // a grid side that is not whole merge blocks
            Self.image(width: 42, height: 28, patch: 14, seed: 2),
            // no patches
            PatchifySource(pixels: [], width: 0, height: 0, gridHeight: 0, gridWidth: 0),
        ]
        for (index, image) in cases.enumerated() {
            #expect(throws: TensorError.self, "case \(index)") { try OpChecks.patchify([good, image], layout: layout) }
            #expect(throws: TensorError.self, "case \(index)") { try image.patchRows(layout: layout) }
        }
        let shortTable = PatchifyLayout(patchSize: 14, mergeSize: 2, temporalPatchSize: 2, normalization: [0, 1])
        let noMerge = PatchifyLayout(patchSize: 14, mergeSize: 0, temporalPatchSize: 2, normalization: Self.table)
        for layout in [shortTable, noMerge] {
            #expect(throws: TensorError.self) { try OpChecks.patchify([good], layout: layout) }
        }
        #expect(try OpChecks.patchify([], layout: layout) == 0)
    }
}
