import CPUBackend
import ImageProcessing
import Qwen25VL
import TensorKit
import TestSupport
import Testing

@Suite("Backend.patchify against the preprocessor's pixel rows")
struct PatchifyOpTests {
    /// The fixture photos and one image of its own size, preprocessed with Lychee's bounds.
    static func preprocessed() throws -> [PreprocessedImage] {
        let preprocessor = ImagePreprocessor()
        var images = try ["photo-a.png", "photo-b.png", "photo-c.jpg"].map {
            try ImageDecoder.decode(contentsOf: Fixtures.url("checkpoints/images/\($0)"))
        }
        var generator = SeededGenerator(seed: 3)
        let noise = (0..<(90 * 61 * 3)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        images.append(try RGBImage(width: 90, height: 61, pixels: noise))
        return try images.map { try preprocessor.process($0) }
    }

    @Test("the default op (CPU) equals uploading each image's pixel values, images one after another")
    func defaultOp() throws {
        let backend = CPUBackend()
        let images = try Self.preprocessed()
        let rows = images.reduce(0) { $0 + $1.grid.patchCount }
        let patches = try backend.patchify(images.map(\.patchifySource), layout: ImagePreprocessor.patchLayout)
        let uploaded = try backend.upload(
            concatenating: try images.map { try $0.pixelValues() }, shape: [rows, ImagePreprocessor.patchValueCount])
        #expect(patches.shape == [rows, ImagePreprocessor.patchValueCount])
        #expect(patches.dtype == backend.activationDType)
        #expect(try backend.download(patches) == backend.download(uploaded))
    }

    @Test("the source shares the resized image's bytes and grid")
    func source() throws {
        for image in try Self.preprocessed() {
            let source = image.patchifySource
            #expect(source.pixels == image.resized.pixels)
            #expect([source.width, source.height] == [image.resized.width, image.resized.height])
            #expect([source.gridHeight, source.gridWidth] == [image.grid.h, image.grid.w])
            #expect(source.patchCount == image.grid.patchCount)
        }
    }

    @Test("the model cuts images with the layout its vision tower takes, and only with one")
    func modelLayout() throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let (model, _) = try loadFixtureModel("tiny-tied-newer", golden: golden)
        let source = try #require(try Self.preprocessed().first).patchifySource
        let standard = ImagePreprocessor.patchLayout
        let halfPatches = PatchifyLayout(
            patchSize: 7, mergeSize: 2, temporalPatchSize: 2, normalization: standard.normalization)
        #expect {
            try model.imageEmbeddings(images: [source], layout: halfPatches)
        } throws: { error in
            guard case .patchLayoutMismatch = error as? ModelInputError else { return false }
            return true
        }
        #expect {
            try model.score(ModelInput(batch: PackedBatch(), images: [.pixels(source)]))
        } throws: { error in
            guard case .missingPatchLayout = error as? ModelInputError else { return false }
            return true
        }
    }

    @Test("an image that does not fit the layout is refused, not cut")
    func refused() throws {
        let image = try #require(try Self.preprocessed().first).patchifySource
        let skewed = PatchifySource(
            pixels: image.pixels, width: image.width, height: image.height, gridHeight: image.gridHeight + 2,
            gridWidth: image.gridWidth)
        #expect(throws: TensorError.self) {
            try CPUBackend().patchify([image, skewed], layout: ImagePreprocessor.patchLayout)
        }
    }
}
