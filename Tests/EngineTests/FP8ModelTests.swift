import CPUBackend
import Foundation
import SafeTensors
import TensorKit
import TestSupport
import Testing

@testable import Qwen25VL

/// `--dtype fp8` on the CPU: linear weights quantized at load to E4M3 with a scale per output channel
/// (the CPU widens them for each product), checked against transformers' float32 outputs.
@Suite("FP8 weights (CPU)")
struct FP8ModelTests {
    @Test(
        "every linear layer holds 8-bit weights; the patch embedding, norms and score head stay wide",
        arguments: [false, true])
    func weightsAreQuantized(fused: Bool) throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        let (model, _) = try loadFixtureModel(
            "tiny-untied-legacy", golden: golden, backend: CPUBackend(prefersFusedWeights: fused), precision: .fp8)
        let layer = try #require(model.decoder.layers.first)
        #expect(layer.output.weight.dtype == .f8e4m3)
        #expect(layer.output.weight.rowScales?.count == layer.output.weight.shape[0])
        #expect(layer.inputNorm.dtype != .f8e4m3)
        let block = try #require(model.vision.blocks.first)
        #expect(block.projection.weight.dtype == .f8e4m3)
        #expect(model.vision.merger.first.weight.dtype == .f8e4m3)
        #expect(model.vision.patchEmbedding.dtype != .f8e4m3)
        #expect(model.scoreDirection.dtype != .f8e4m3)
    }

    @Test(
        "scores stay close to float32 transformers and keep their order",
        arguments: ["tiny-untied-legacy", "tiny-tied-newer"], [false, true])
    func scoresStayClose(modelName: String, fused: Bool) throws {
        let golden = try GoldenModelOutputs.load(modelName)
        let (model, configuration) = try loadFixtureModel(
            modelName, golden: golden, backend: CPUBackend(prefersFusedWeights: fused), precision: .fp8)
        var got = [Float](), want = [Float]()
        for pair in golden.pairs {
            let z = try #require(try forwardGoldenPair(pair, model: model, configuration: configuration).logits.first)
            #expect(z.isFinite)
            got.append(z)
            want.append(pair.z)
        }
        // These fixtures are 64 wide with weights scaled up so z spans -4.4..4.9: the 3-4% rounding of an
        // E4M3 weight does not average out over so few terms, and z moves by up to ~0.7 (the 7B's figures
        // are in docs/). A lost or doubled scale moves z by units and scrambles the order.
        let differences = zip(got, want).map { abs($0 - $1) }
        let mean = differences.reduce(0, +) / Float(differences.count)
        #expect(mean <= 0.7, "mean |dz| \(mean): fp8 \(got) vs float32 \(want)")
        #expect(differences.allSatisfy { $0 <= 1.2 }, "fp8 \(got) vs float32 \(want)")
        #expect(spearman(got, want) >= 0.95, "fp8 \(got) vs float32 \(want)")
    }

    @Test(
        "an 8-bit model computes exactly what a float32 model of the dequantized weights computes",
        arguments: [false, true])
    func equalsDequantizedModel(fused: Bool) throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let backend = CPUBackend(prefersFusedWeights: fused)
        let (model, configuration) = try loadFixtureModel(
            "tiny-tied-newer", golden: golden, backend: backend, precision: .fp8)
        let directory = Fixtures.url("checkpoints/tiny-tied-newer")
        let widened = try Qwen25VLModel(
            dimensions: ModelDimensions(configuration: configuration),
            weights: DequantizedWeights(
                base: CheckpointWeights(checkpoint: try Checkpoint(directory: directory), configuration: configuration)),
            backend: backend, yesTokenID: golden.yes_id, noTokenID: golden.no_id, mlpRowChunks: model.mlpRowChunks)
        for pair in golden.pairs {
            let z8 = try #require(try forwardGoldenPair(pair, model: model, configuration: configuration).logits.first)
            let zWide = try #require(
                try forwardGoldenPair(pair, model: widened, configuration: configuration).logits.first)
            #expect(abs(z8 - zWide) <= 1e-5 * max(1, abs(zWide)), "\(pair.name): \(z8) vs \(zWide)")
        }
    }

    /// Spearman's rank correlation (no ties in these values).
    func spearman(_ a: [Float], _ b: [Float]) -> Float {
        func ranks(_ values: [Float]) -> [Float] {
            var rank = [Float](repeating: 0, count: values.count)
            for (position, index) in values.indices.sorted(by: { values[$0] < values[$1] }).enumerated() {
                rank[index] = Float(position)
            }
            return rank
        }
        let (ra, rb) = (ranks(a), ranks(b))
        let n = Float(a.count)
        let d2 = zip(ra, rb).map { ($0 - $1) * ($0 - $1) }.reduce(0, +)
        return 1 - 6 * d2 / (n * (n * n - 1))
    }
}

/// Linear weights quantized per row and widened back to float32 on the host: the values an 8-bit model
/// multiplies by, in an ordinary weight.
struct DequantizedWeights: WeightSource {
    let base: CheckpointWeights

    func tensor(_ name: WeightName, on backend: any Backend) throws -> Tensor { try base.tensor(name, on: backend) }
    func hostRows(_ name: WeightName, rows: [Int]) throws -> [[Float]] { try base.hostRows(name, rows: rows) }
    func stackedTensor(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws -> Tensor {
        try base.stackedTensor(names, rowsEach: rowsEach, columns: columns, on: backend)
    }
    func linearWeight(_ names: [WeightName], rowsEach: Int?, columns: Int?, on backend: any Backend) throws -> Tensor {
        let stacked = try base.stackedBytes(names, rowsEach: rowsEach, columns: columns)
        let matrix = try stacked.bytes.withUnsafeBytes {
            try RowQuantizedMatrix(
                quantizing: $0, dtype: stacked.dtype, rows: stacked.shape[0], columns: stacked.shape[1])
        }
        let values = matrix.dequantized()
        return try values.withUnsafeBytes {
            try backend.weight($0, dtype: .f32, shape: stacked.shape, keepingAlive: nil)
        }
    }
}

/// A checkpoint stored in 8 bits (`Fixtures/checkpoints/tiny-fp8`: the tiny-untied-legacy weights quantized by
/// `tools/make_fp8_fixture.py`, compressed-tensors layout, per-channel and per-tensor scales).
@Suite("FP8 checkpoints (CPU)")
struct FP8CheckpointTests {
    @Test(
        "loads as stored: 8-bit weights with the checkpoint's own scales, scores close to float32",
        arguments: [false, true])
    func loadsAsStored(fused: Bool) throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        let (model, configuration) = try loadFixtureModel(
            "tiny-fp8", golden: golden, backend: CPUBackend(prefersFusedWeights: fused), precision: .fp8)
        let layer = try #require(model.decoder.layers.first)
        #expect(layer.output.weight.dtype == .f8e4m3)
        var got = [Float]()
        for pair in golden.pairs {
            got.append(
                try #require(try forwardGoldenPair(pair, model: model, configuration: configuration).logits.first))
        }
        let differences = zip(got, golden.pairs.map(\.z)).map { abs($0 - $1) }
        #expect(differences.reduce(0, +) / Float(differences.count) <= 0.7, "\(got)")
        #expect(FP8ModelTests().spearman(got, golden.pairs.map(\.z)) >= 0.95, "\(got)")
    }

    @Test("--dtype bf16 widens the stored 8-bit weights: same scores up to bf16 rounding")
    func widensForBF16() throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        let (eight, configuration) = try loadFixtureModel("tiny-fp8", golden: golden, precision: .fp8)
        let (wide, _) = try loadFixtureModel("tiny-fp8", golden: golden, precision: .bf16)
        #expect(try #require(wide.decoder.layers.first).output.weight.dtype == .bf16)
        for pair in golden.pairs {
            let z8 = try #require(try forwardGoldenPair(pair, model: eight, configuration: configuration).logits.first)
            let z16 = try #require(try forwardGoldenPair(pair, model: wide, configuration: configuration).logits.first)
            #expect(abs(z8 - z16) <= 0.05 * max(1, abs(z8)), "\(pair.name): \(z8) vs \(z16)")
        }
    }

    @Test("per-channel layers equal quantizing the bf16 checkpoint at load")
    func matchesLoadTimeQuantization() throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        let (stored, _) = try loadFixtureModel("tiny-fp8", golden: golden, precision: .fp8)
        let (quantized, _) = try loadFixtureModel("tiny-untied-legacy", golden: golden, precision: .fp8)
        let backend = CPUBackend()
        let a = try #require(stored.decoder.layers.first).output.weight
        let b = try #require(quantized.decoder.layers.first).output.weight
        let x = try backend.upload((0..<(3 * a.shape[1])).map { Float($0 % 7) - 3 }, shape: [3, a.shape[1]])
        #expect(
            try backend.download(backend.linear(x, weight: a, bias: nil))
                == backend.download(backend.linear(x, weight: b, bias: nil)))
    }
}
