import CPUBackend
import Foundation
import ImageProcessing
import Qwen25VL
import SafeTensors
import TensorKit
import TestSupport
import Testing

/// The golden outputs `tools/make_model_fixtures.py` wrote with transformers (float32).
struct GoldenModelOutputs: Decodable {
    struct Segment: Decodable {
        var text: String?
        var image: String?
    }
    struct Pair: Decodable {
        var name: String
        var instruction: String?
        var query: Segment
        var document: Segment
        var input_ids: [Int32]
        var image_grid_thw: [[Int]]
        var vision_embeddings: [[[Float]]]
        var last_hidden: [Float]
        var z: Float
    }
    var model: String
    var yes_id: Int32
    var no_id: Int32
    var pairs: [Pair]

    static func load(_ model: String) throws -> GoldenModelOutputs {
        let data = try Data(contentsOf: Fixtures.url("checkpoints/golden/\(model).json"))
        return try JSONDecoder().decode(GoldenModelOutputs.self, from: data)
    }
}

/// Loads a fixture checkpoint on the CPU backend.
/// Fused weights (a GPU's layout) also run the MLPs in small row chunks, so both paths are checked.
func loadFixtureModel(
    _ name: String, golden: GoldenModelOutputs, backend: CPUBackend = CPUBackend(),
    precision: LinearWeightPrecision = .bf16, mlpRowChunks: MLPRowChunks? = nil
) throws -> (Qwen25VLModel, Qwen25VLConfiguration) {
    let directory = Fixtures.url("checkpoints/\(name)")
    let configuration = try Qwen25VLConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
    let weights = try CheckpointWeights(
        checkpoint: try Checkpoint(directory: directory), configuration: configuration, linearPrecision: precision)
    let model = try Qwen25VLModel(
        dimensions: ModelDimensions(configuration: configuration), weights: weights, backend: backend,
        yesTokenID: golden.yes_id, noTokenID: golden.no_id,
        mlpRowChunks: mlpRowChunks ?? (backend.prefersFusedWeights ? MLPRowChunks(text: 7, vision: 24) : .standard))
    return (model, configuration)
}

/// Pixel rows, patchify sources and grids of a pair's images, made by our own preprocessing (itself checked
/// against the reference in ImageProcessingTests).
func preprocessedImages(of pair: GoldenModelOutputs.Pair) throws
    -> (pixels: [Float], sources: [PatchifySource], grids: [VisionGrid])
{
    var pixels = [Float](), sources = [PatchifySource](), grids = [VisionGrid]()
    for name in [pair.query.image, pair.document.image].compactMap({ $0 }) {
        let image = try ImageDecoder.decode(contentsOf: Fixtures.url("checkpoints/images/\(name)"))
        let processed = try ImagePreprocessor().process(image)
        pixels += try processed.pixelValues()
        sources.append(processed.patchifySource)
        grids.append(processed.grid)
    }
    return (pixels, sources, grids)
}

func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    let scale = max(b.map { abs($0) }.max() ?? 1, 1e-6)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

@Suite("Model parity with transformers (float32, CPU)")
struct ModelParityTests {
    static let models = ["tiny-untied-legacy", "tiny-tied-newer"]
    /// Plain weights, and the fused q/k/v and gate/up weights (padded vision MLP) a GPU loads.
    static let fused = [false, true]

    @Test("vision embeddings match", arguments: models, fused)
    func visionEmbeddings(modelName: String, fused: Bool) throws {
        let golden = try GoldenModelOutputs.load(modelName)
        let (model, _) = try loadFixtureModel(
            modelName, golden: golden, backend: CPUBackend(prefersFusedWeights: fused))
        for pair in golden.pairs where !pair.image_grid_thw.isEmpty {
            let (pixels, sources, grids) = try preprocessedImages(of: pair)
            #expect(grids.map { [$0.t, $0.h, $0.w] } == pair.image_grid_thw, "\(pair.name)")
            let embeddings = try model.backend.download(try model.imageEmbeddings(pixelValues: pixels, grids: grids))
            let expected = pair.vision_embeddings.flatMap { $0.flatMap { $0 } }
            #expect(embeddings.count == expected.count)
            #expect(maxRelativeError(embeddings, expected) < 1e-3, "\(pair.name)")
            // Cut by the backend's patchify op: the same rows, so the same embeddings.
            let patchified = try model.backend.download(
                try model.imageEmbeddings(images: sources, layout: ImagePreprocessor.patchLayout))
            #expect(patchified == embeddings, "\(pair.name)")
        }
    }

    @Test("last hidden state and logit z match for every kind of pair", arguments: models, fused)
    func logits(modelName: String, fused: Bool) throws {
        let golden = try GoldenModelOutputs.load(modelName)
        let (model, configuration) = try loadFixtureModel(
            modelName, golden: golden, backend: CPUBackend(prefersFusedWeights: fused))
        for pair in golden.pairs {
            let output = try forwardGoldenPair(pair, model: model, configuration: configuration)
            #expect(maxRelativeError(output.lastHidden, pair.last_hidden) < 1e-3, "\(pair.name)")
            let z = try #require(output.logits.first)
            #expect(abs(z - pair.z) <= 1e-3 * max(1, abs(pair.z)), "\(pair.name): z \(z) vs \(pair.z)")
        }
    }
}

/// The model's output for one golden pair, run alone.
func forwardGoldenPair(
    _ pair: GoldenModelOutputs.Pair, model: Qwen25VLModel, configuration: Qwen25VLConfiguration
) throws -> ForwardOutput {
    let tokens = VisionTokenIDs(
        imagePad: Int32(configuration.imageTokenId), visionStart: Int32(configuration.visionStartTokenId),
        videoPad: Int32(configuration.videoTokenId))
    let (_, sources, grids) = try preprocessedImages(of: pair)
    let positions = try multimodalRopePositions(tokenIDs: pair.input_ids, imageGrids: grids, tokens: tokens)
    let padRows = pair.input_ids.indices.filter { pair.input_ids[$0] == tokens.imagePad }.map { Int32($0) }
    var batch = PackedBatch()
    batch.append(tokenIDs: pair.input_ids, positions: positions)
    if !grids.isEmpty {
        let embeddings = try model.imageEmbeddings(images: sources, layout: ImagePreprocessor.patchLayout)
        batch.images = [ImageInsert(embeddings: embeddings, rows: padRows)]
    }
    return try model.forward(batch)
}
