import Foundation
import Qwen25VL
import SafeTensors
import TestSupport
import Testing

@Suite("Weight names and catalog: layouts, tied heads, every problem reported")
struct WeightCatalogTests {
    static func config(_ path: String) throws -> Qwen25VLConfiguration {
        try Qwen25VLConfiguration(contentsOf: Fixtures.url(path))
    }

    @Test func sevenBHasTheReleasedParameterCount() throws {
        let catalog = WeightCatalog(
            configuration: try Self.config("models/configs/qwen2.5-vl-7b-instruct.json"), layout: .legacy)
        #expect(catalog.expected.count == 729)
        #expect(catalog.parameterCount == 8_292_166_656)
        #expect(catalog.outputHead == .lmHead)
        #expect(catalog.shape(of: .decoder(layer: 27, .kProj, .weight)) == [512, 3584])
        #expect(catalog.shape(of: .patchEmbed) == [1280, 3, 2, 14, 14])
        #expect(catalog.shape(of: .merger(.fc2, .weight)) == [3584, 5120])
        #expect(catalog.shape(of: .decoder(layer: 28, .qProj, .weight)) == nil)
    }

    @Test func threeBIsTiedAndHasNoLMHead() throws {
        let catalog = WeightCatalog(
            configuration: try Self.config("models/configs/qwen2.5-vl-3b-instruct.json"), layout: .nested)
        #expect(catalog.parameterCount == 3_754_622_976)
        #expect(catalog.outputHead == .tokenEmbedding)
        #expect(catalog.shape(of: .lmHead) == nil)
        #expect(catalog.ignoredStoredNames == ["lm_head.weight"])
    }

    @Test func storedNamesFollowExplicitPrefixes() throws {
        let config = try Self.config("models/configs/qwen2.5-vl-7b-instruct.json")
        let legacy = WeightCatalog(configuration: config, layout: .legacy)
        let nested = WeightCatalog(configuration: config, layout: .nested)
        let q = WeightName.decoder(layer: 3, .qProj, .weight)
        #expect(legacy.storedName(q) == "model.layers.3.self_attn.q_proj.weight")
        #expect(nested.storedName(q) == "model.language_model.layers.3.self_attn.q_proj.weight")
        #expect(legacy.storedName(.visionBlock(block: 0, .qkv, .bias)) == "visual.blocks.0.attn.qkv.bias")
        #expect(nested.storedName(.visionBlock(block: 0, .qkv, .bias)) == "model.visual.blocks.0.attn.qkv.bias")
        #expect(nested.storedName(.merger(.fc1, .weight)) == "model.visual.merger.mlp.0.weight")
        #expect(nested.storedName(.lmHead) == "lm_head.weight" && legacy.storedName(.lmHead) == "lm_head.weight")
        #expect(nested.storedName(.tokenEmbedding) == "model.language_model.embed_tokens.weight")
        #expect(nested.storedName(.finalNorm) == "model.language_model.norm.weight")
        #expect(q.canonical == "model.layers.3.self_attn.q_proj.weight")
        #expect(
            nested.storedName(canonical: "model.layers.3.self_attn.q_proj.weight")
                == "model.language_model.layers.3.self_attn.q_proj.weight")
        #expect(
            nested.storedName(canonical: "visual.patch_embed.proj.weight") == "model.visual.patch_embed.proj.weight")
        #expect(nested.storedName(canonical: "model.layers.3.self_attn.o_proj.bias") == nil)
    }

    @Test func detectsLayouts() throws {
        #expect(
            try WeightLayout.detect(from: [
                "model.layers.0.mlp.up_proj.weight", "visual.blocks.0.norm1.weight", "lm_head.weight",
            ]) == .legacy)
        #expect(
            try WeightLayout.detect(from: ["model.language_model.norm.weight", "model.visual.merger.ln_q.weight"])
                == .nested)
        #expect(
            throws: WeightCheckError.mixedLayout(
                legacyExample: "visual.blocks.0.norm1.weight", nestedExample: "model.language_model.norm.weight")
        ) {
            try WeightLayout.detect(from: ["model.language_model.norm.weight", "visual.blocks.0.norm1.weight"])
        }
        #expect {
            try WeightLayout.detect(from: ["encoder.weight", "decoder.bias"])
        } throws: { error in
            "\(error)".contains("match neither the legacy") && "\(error)".contains("decoder.bias")
        }
    }

    @Test func legacyUntiedCheckpointValidates() throws {
        let directory = Fixtures.url("models/tiny-legacy-untied")
        let catalog = try WeightCatalog.validated(
            Checkpoint(directory: directory), configuration: Qwen25VLConfiguration(contentsOf: directory))
        #expect(catalog.layout == .legacy && !catalog.tiedEmbeddings && catalog.outputHead == .lmHead)
    }

    @Test func nestedShardedTiedCheckpointValidates() throws {
        let directory = Fixtures.url("models/tiny-nested-sharded-tied")
        let checkpoint = try Checkpoint(directory: directory)
        let catalog = try WeightCatalog.validated(
            checkpoint, configuration: Qwen25VLConfiguration(contentsOf: directory))
        #expect(catalog.layout == .nested && catalog.tiedEmbeddings)
        #expect(catalog.parameterCount == checkpoint.tensors.values.reduce(0) { $0 + $1.elementCount })
        #expect(checkpoint.info(catalog.storedName(catalog.outputHead))?.shape == [128, 32])
    }

    @Test func storedLMHeadIsIgnoredWhenTied() throws {
        let directory = Fixtures.url("models/tiny-tied-with-lm-head")
        let checkpoint = try Checkpoint(directory: directory)
        #expect(checkpoint.info("lm_head.weight") != nil)
        let catalog = try WeightCatalog.validated(
            checkpoint, configuration: Qwen25VLConfiguration(contentsOf: directory))
        #expect(catalog.outputHead == .tokenEmbedding)
    }

    @Test func allProblemsAreReportedTogether() throws {
        let directory = Fixtures.url("models/broken-names")
        #expect(
            throws: WeightCheckError.problems([
                .missing(name: "model.layers.1.mlp.up_proj.weight", expectedShape: [64, 32]),
                .wrongShape(name: "visual.merger.mlp.2.weight", expected: [32, 64], actual: [16, 64]),
                .unexpected(name: "model.layers.0.self_attn.o_proj.bias", shape: [32]),
            ])
        ) {
            try WeightCatalog.validated(
                Checkpoint(directory: directory), configuration: Qwen25VLConfiguration(contentsOf: directory))
        }
        let message = WeightCheckError.problems([
            .missing(name: "a", expectedShape: [2]), .unexpected(name: "b", shape: [1]),
        ]).description
        #expect(
            message
                == "the checkpoint does not match config.json (2 problems):\n  - missing tensor a (expected shape [2])\n  - unexpected tensor b (shape [1]); the configuration has no place for it"
        )
    }

    @Test func untiedCheckpointWithoutLMHeadIsMissingIt() throws {
        var config = try Self.config("models/tiny-nested-sharded-tied/config.json")
        config.tieWordEmbeddings = false
        let checkpoint = try Checkpoint(directory: Fixtures.url("models/tiny-nested-sharded-tied"))
        let catalog = WeightCatalog(configuration: config, layout: .nested)
        #expect(
            catalog.problems(in: checkpoint.tensors) == [.missing(name: "lm_head.weight", expectedShape: [128, 32])])
    }
}
