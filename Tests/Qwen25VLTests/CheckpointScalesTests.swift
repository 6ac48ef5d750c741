import Foundation
import Qwen25VL
import SafeTensors
import TensorKit
import TestSupport
import Testing

@Suite("FP8 checkpoint scales: one fp32 scale per row, bit-exact with the engine's own quantizer")
struct CheckpointScalesTests {
    static let fp8 = Fixtures.url("checkpoints/tiny-fp8")
    static let bf16 = Fixtures.url("checkpoints/tiny-untied-legacy")

    static func weights(_ folder: URL) throws -> CheckpointWeights {
        try CheckpointWeights(
            checkpoint: Checkpoint(directory: folder), configuration: Qwen25VLConfiguration(contentsOf: folder))
    }

    @Test func perChannelScalesAreTheStoredColumn() throws {
        let weights = try Self.weights(Self.fp8)
        #expect(weights.storesFP8Weights)
        let name = "model.layers.0.self_attn.q_proj.weight"
        let scales = try #require(try weights.rowScales(ofWeight: name))
        #expect(scales.count == 64)
        #expect(scales == (try weights.checkpoint.floats(name + "_scale")))
        #expect(try weights.checkpoint.info(name + "_scale")?.shape == [64, 1])
    }

    @Test(arguments: [
        ("model.layers.1.mlp.down_proj.weight", 64, [Int]()), ("visual.blocks.2.attn.proj.weight", 32, [1]),
    ])
    func perTensorScaleIsRepeatedForEveryRow(name: String, rows: Int, shape: [Int]) throws {
        let weights = try Self.weights(Self.fp8)
        #expect(try weights.checkpoint.info(name + "_scale")?.shape == shape)
        let stored = try weights.checkpoint.floats(name + "_scale")
        #expect(stored.count == 1)
        #expect(try weights.rowScales(ofWeight: name) == [Float](repeating: stored[0], count: rows))
    }

    @Test func weightsThatAreNotEightBitHaveNoScales() throws {
        let fp8 = try Self.weights(Self.fp8)
        #expect(try fp8.rowScales(ofWeight: "model.layers.0.input_layernorm.weight") == nil)
        #expect(try fp8.rowScales(ofWeight: "lm_head.weight") == nil)
        let bf16 = try Self.weights(Self.bf16)
        #expect(!bf16.storesFP8Weights)
        #expect(try bf16.rowScales(ofWeight: "model.layers.0.self_attn.q_proj.weight") == nil)
        #expect(
            throws: WeightCheckError.problems([.missing(name: "model.layers.9.mlp.up_proj.weight", expectedShape: [])])
        ) {
            try bf16.rowScales(ofWeight: "model.layers.9.mlp.up_proj.weight")
        }
    }

    @Test(arguments: [Float(0), -0.5, .nan, .infinity])
    func invalidScaleValuesAreRefused(value: Float) throws {
        let folder = try CheckpointSurgery.copyFixture("tiny-fp8")
        let name = "model.layers.0.mlp.up_proj.weight"
        try CheckpointSurgery.rewrite(name + "_scale", in: folder) { values in
            var values = values
            values[5] = value
            return values
        }
        let weights = try Self.weights(folder)
        #expect(throws: WeightCheckError.problems([.scaleValuesInvalid(name: name + "_scale", count: 1)])) {
            try weights.rowScales(ofWeight: name)
        }
        #expect(
            WeightProblem.scaleValuesInvalid(name: "s", count: 1).description
                == "scale s holds 1 NaN, infinite, zero or negative value: the checkpoint is corrupt; download it again"
        )
    }

    /// The fixture script and the engine's quantizer agree bit for bit: re-quantizing the original bf16 weight
    /// with `RowQuantizedMatrix` gives the stored bytes and scales.
    @Test func fixtureMatchesTheEngineQuantizer() throws {
        let fp8 = try Self.weights(Self.fp8)
        let original = try Checkpoint(directory: Self.bf16)
        var perChannel = 0
        for weight in fp8.catalog.eightBitWeights(in: fp8.checkpoint.tensors) {
            let info = try #require(original.info(weight.storedName))
            #expect(info.dtype == .bf16)
            let (rows, columns) = (info.shape[0], info.shape[1])
            let stored = Array(try fp8.checkpoint.bytes(weight.storedName))
            let scales = try #require(try fp8.rowScales(ofWeight: weight.name.canonical))
            switch weight.granularity {
            case .perChannel:
                let quantized = try RowQuantizedMatrix(
                    quantizing: try original.bytes(weight.storedName), dtype: .bf16, rows: rows, columns: columns)
                #expect(quantized.values == stored, "\(weight.storedName)")
                #expect(quantized.scales.map(\.bitPattern) == scales.map(\.bitPattern), "\(weight.storedName)")
                perChannel += 1
            case .perTensor:
                let values = try original.floats(weight.storedName)
                let largest = values.map(abs).max() ?? 0
                #expect(scales[0].bitPattern == (largest / FP8E4M3.largestFinite).bitPattern, "\(weight.storedName)")
                #expect(values.map { FP8E4M3.bits($0 / scales[0]) } == stored, "\(weight.storedName)")
            }
        }
        #expect(perChannel == 41)
    }

    /// The checkpoint reader's E4M3 conversions are the engine's (two copies: SafeTensors does not depend on TensorKit).
    @Test func readerAndEngineConversionsAgree() {
        for bits in UInt8.min...UInt8.max {
            let ours = FloatConversion.e4m3ToFloat(bits), engine = FP8E4M3.float(bits)
            #expect(ours.bitPattern == engine.bitPattern || (ours.isNaN && engine.isNaN), "pattern \(bits)")
        }
        var random = SeededGenerator(seed: 8)
        for _ in 0..<100_000 {
            let value = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &random))
            #expect(FloatConversion.floatToE4M3(value) == FP8E4M3.bits(value), "\(value)")
        }
    }
}
