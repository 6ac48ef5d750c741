import Foundation
import Qwen25VL
import SafeTensors
import TestSupport
import Testing

@Suite("FP8 checkpoints in the catalog: 8-bit linear weights, their scales, every misplaced piece reported")
struct EightBitCatalogTests {
    static let fp8 = Fixtures.url("checkpoints/tiny-fp8")
    static let bf16 = Fixtures.url("checkpoints/tiny-untied-legacy")
    static let q = "model.layers.0.self_attn.q_proj.weight"

    /// The FP8 fixture's catalog and tensors.
    static func fixture() throws -> (WeightCatalog, [String: TensorInfo]) {
        let checkpoint = try Checkpoint(directory: fp8)
        let catalog = try WeightCatalog.validated(checkpoint, configuration: Qwen25VLConfiguration(contentsOf: fp8))
        return (catalog, checkpoint.tensors)
    }

    /// `info` with another dtype or shape (offsets are irrelevant to the catalog).
    static func changed(_ info: TensorInfo?, dtype: TensorDType? = nil, shape: [Int]? = nil) throws -> TensorInfo {
        let info = try #require(info)
        let dtype = dtype ?? info.dtype, shape = shape ?? info.shape
        return TensorInfo(
            name: info.name, dtype: dtype, shape: shape, byteCount: shape.reduce(dtype.byteSize, *), dataOffset: 0)
    }

    @Test func fixtureValidatesWithEveryLinearWeightInEightBits() throws {
        let (catalog, tensors) = try Self.fixture()
        #expect(catalog.problems(in: tensors) == [])
        let weights = catalog.eightBitWeights(in: tensors)
        #expect(weights.count == 43)
        #expect(weights.count == catalog.expected.filter(\.name.isLinearWeight).count)
        #expect(
            weights.filter { $0.granularity == .perTensor }.map(\.storedName) == [
                "model.layers.1.mlp.down_proj.weight", "visual.blocks.2.attn.proj.weight",
            ])
        #expect(weights.compactMap(\.inputScaleName) == ["model.layers.1.mlp.down_proj.input_scale"])
        let first = try #require(weights.first)
        #expect(first.storedName == Self.q && first.scaleName == Self.q + "_scale" && first.rows == 64)
        #expect(first.name == .decoder(layer: 0, .qProj, .weight))
    }

    @Test func linearWeightsAreTheProjections() {
        #expect(WeightName.decoder(layer: 0, .downProj, .weight).isLinearWeight)
        #expect(WeightName.visionBlock(block: 1, .qkv, .weight).isLinearWeight)
        #expect(WeightName.merger(.fc2, .weight).isLinearWeight)
        #expect(!WeightName.decoder(layer: 0, .qProj, .bias).isLinearWeight)
        #expect(!WeightName.decoder(layer: 0, .inputLayerNorm, .weight).isLinearWeight)
        #expect(!WeightName.visionBlock(block: 0, .norm2, .weight).isLinearWeight)
        #expect(!WeightName.merger(.norm, .weight).isLinearWeight)
        for name in [WeightName.tokenEmbedding, .lmHead, .patchEmbed, .finalNorm] { #expect(!name.isLinearWeight) }
    }

    @Test func scaleGranularityFollowsTheShape() {
        #expect(ScaleGranularity(scaleShape: [64, 1], rows: 64) == .perChannel)
        #expect(ScaleGranularity(scaleShape: [64], rows: 64) == .perChannel)
        #expect(ScaleGranularity(scaleShape: [], rows: 64) == .perTensor)
        #expect(ScaleGranularity(scaleShape: [1], rows: 64) == .perTensor)
        #expect(ScaleGranularity(scaleShape: [64, 2], rows: 64) == nil)
        #expect(ScaleGranularity(scaleShape: [32, 1], rows: 64) == nil)
    }

    @Test func eightBitWeightWithoutScale() throws {
        let (catalog, tensors) = try Self.fixture()
        var broken = tensors
        broken[Self.q + "_scale"] = nil
        let problem = WeightProblem.scaleMissing(weight: Self.q, scale: Self.q + "_scale")
        #expect(catalog.problems(in: broken) == [problem])
        #expect(
            problem.description
                == "8-bit weight \(Self.q) has no scale \(Self.q)_scale beside it (F32, shape [rows, 1] per channel or [] "
                + "per tensor): the checkpoint is incomplete or not in the compressed-tensors FP8 layout; download it again "
                + "or use a BF16 checkpoint")
        #expect(catalog.eightBitWeights(in: broken).count == 42)
    }

    @Test(arguments: [[64, 2], [32, 1], [2, 64, 1]])
    func scaleOfTheWrongShape(shape: [Int]) throws {
        let (catalog, tensors) = try Self.fixture()
        var broken = tensors
        broken[Self.q + "_scale"] = try Self.changed(tensors[Self.q + "_scale"], shape: shape)
        let problem = WeightProblem.scaleWrongShape(name: Self.q + "_scale", rows: 64, actual: shape)
        #expect(catalog.problems(in: broken) == [problem])
        #expect(
            problem.description
                == "scale \(Self.q)_scale has shape \(shape), expected [64] or [64, 1] (one per output channel) or [] or [1] "
                + "(one per tensor); group- and block-wise scales are not supported: use a per-channel or per-tensor FP8 checkpoint"
        )
    }

    @Test(arguments: [TensorDType.bf16, .f16, .f32])
    func scalesMayBeAnyWideFloat(dtype: TensorDType) throws {
        let (catalog, tensors) = try Self.fixture()
        var changed = tensors
        changed[Self.q + "_scale"] = try Self.changed(tensors[Self.q + "_scale"], dtype: dtype)
        #expect(catalog.problems(in: changed) == [])
    }

    @Test func scaleOfTheWrongDType() throws {
        let (catalog, tensors) = try Self.fixture()
        var broken = tensors
        broken[Self.q + "_scale"] = try Self.changed(tensors[Self.q + "_scale"], dtype: .f8e4m3)
        let problem = WeightProblem.scaleWrongDType(name: Self.q + "_scale", dtype: "F8_E4M3")
        #expect(catalog.problems(in: broken) == [problem])
        #expect(
            problem.description
                == "scale \(Self.q)_scale has dtype F8_E4M3; weight scales must be F32, BF16 or F16: re-export the checkpoint"
        )
    }

    @Test func scalesBesideWeightsThatAreNotEightBit() throws {
        let checkpoint = try Checkpoint(directory: Self.bf16)
        let catalog = try WeightCatalog.validated(
            checkpoint, configuration: Qwen25VLConfiguration(contentsOf: Self.bf16))
        var broken = checkpoint.tensors
        let up = "model.layers.0.mlp.up_proj"
        for name in [
            Self.q + "_scale", up + ".input_scale", "model.norm.weight_scale", "model.layers.0.mlp.extra.weight_scale",
        ] {
            broken[name] = TensorInfo(name: name, dtype: .f32, shape: [], byteCount: 4, dataOffset: 0)
        }
        let problems: [WeightProblem] = [
            .scaleWithoutWeight(
                name: "model.layers.0.mlp.extra.weight_scale", weight: "model.layers.0.mlp.extra.weight",
                weightDType: nil),
            .scaleWithoutWeight(name: up + ".input_scale", weight: up + ".weight", weightDType: "BF16"),
            .scaleWithoutWeight(name: Self.q + "_scale", weight: Self.q, weightDType: "BF16"),
            .scaleWithoutWeight(name: "model.norm.weight_scale", weight: "model.norm.weight", weightDType: "BF16"),
        ]
        #expect(catalog.problems(in: broken) == problems)
        #expect(
            problems[0].description
                == "scale model.layers.0.mlp.extra.weight_scale has no weight model.layers.0.mlp.extra.weight beside it: "
                + "the checkpoint is incomplete or mixes files of two exports; download it again")
        #expect(
            problems[2].description
                == "scale \(Self.q)_scale belongs to \(Self.q), which is stored as BF16, not F8_E4M3: the checkpoint mixes "
                + "quantized and unquantized files; download it again or re-export it in one piece")
    }

    @Test(arguments: [
        "model.layers.1.input_layernorm.weight", "model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
        "visual.patch_embed.proj.weight", "model.layers.0.self_attn.k_proj.bias", "visual.blocks.0.attn.qkv.bias",
        "visual.merger.ln_q.weight", "visual.merger.mlp.0.bias", "visual.blocks.3.norm1.weight",
    ])
    func eightBitWhereNoLinearWeightIs(name: String) throws {
        let (catalog, tensors) = try Self.fixture()
        var broken = tensors
        broken[name] = try Self.changed(tensors[name], dtype: .f8e4m3)
        if name.hasSuffix(".weight") {  // a scale beside it changes nothing: the weight is the problem
            broken[name + "_scale"] = TensorInfo(
                name: name + "_scale", dtype: .f32, shape: [], byteCount: 4, dataOffset: 0)
        }
        let problem = WeightProblem.eightBitNotLinear(name: name)
        #expect(catalog.problems(in: broken) == [problem])
        #expect(
            problem.description
                == "tensor \(name) is stored as F8_E4M3, but only linear-layer weights (attention and MLP projections, "
                + "merger MLP) may be 8-bit; keep it in BF16 when quantizing (e.g. list it in llm-compressor's ignore) "
                + "or use a BF16 checkpoint")
    }

    @Test func everyProblemIsListedInOneError() throws {
        // A copy of the FP8 fixture whose final norm is stored in 8 bits and whose q_proj lost its scale.
        let folder = try CheckpointSurgery.copyFixture("tiny-fp8")
        let url = folder.appendingPathComponent("model.safetensors")
        let file = try SafeTensorFile(url: url, loading: .readIntoMemory)
        let tensors = try file.tensorNames.filter { $0 != Self.q + "_scale" }.map { name in
            let info = try #require(file.tensors[name])
            if name == "model.norm.weight" {
                return SafeTensorWriter.Tensor(
                    name: name, dtype: .f8e4m3, shape: info.shape, values: try file.floats(name))
            }
            return SafeTensorWriter.Tensor(
                name: name, dtype: info.dtype, shape: info.shape, data: Array(try file.bytes(name)))
        }
        try SafeTensorWriter.write(tensors, metadata: file.metadata, to: url)
        let expected: [WeightProblem] = [  // in model order
            .scaleMissing(weight: Self.q, scale: Self.q + "_scale"), .eightBitNotLinear(name: "model.norm.weight"),
        ]
        #expect(throws: WeightCheckError.problems(expected)) {
            try WeightCatalog.validated(
                Checkpoint(directory: folder), configuration: Qwen25VLConfiguration(contentsOf: folder))
        }
        let message = WeightCheckError.problems(expected).description
        #expect(
            message.hasPrefix(
                "the checkpoint does not match config.json (2 problems):\n  - 8-bit weight \(Self.q) has no scale"))
        #expect(message.contains("\n  - tensor model.norm.weight is stored as F8_E4M3"))
    }

    @Test func nestedLayoutScalesAreFound() throws {
        let (legacy, tensors) = try Self.fixture()
        let nested = WeightCatalog(configuration: legacy.configuration, layout: .nested)
        var renamed: [String: TensorInfo] = [:]
        for (name, info) in tensors {
            let newName =
                name.hasPrefix("visual.")
                ? "model." + name
                : name.hasPrefix("model.") ? "model.language_model." + name.dropFirst("model.".count) : name
            renamed[newName] = info
        }
        #expect(nested.problems(in: renamed) == [])
        let weights = nested.eightBitWeights(in: renamed)
        #expect(weights.count == 43)
        #expect(
            weights.contains {
                $0.storedName == "model.visual.merger.mlp.2.weight"
                    && $0.scaleName == "model.visual.merger.mlp.2.weight_scale"
            })
        #expect(weights.compactMap(\.inputScaleName) == ["model.language_model.layers.1.mlp.down_proj.input_scale"])
    }
}
