import Foundation
import Qwen25VL
import TestSupport
import Testing

@Suite("config.json: flat and nested styles, defaults, validation")
struct ConfigurationTests {
    static func load(_ name: String) throws -> Qwen25VLConfiguration {
        try Qwen25VLConfiguration(contentsOf: Fixtures.url("models/configs/\(name)"))
    }

    static func decodeError(_ json: String) -> ConfigurationError? {
        do {
            _ = try Qwen25VLConfiguration(jsonData: Data(json.utf8), file: "test.json")
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["qwen2.5-vl-7b-instruct.json", "qwen2.5-vl-7b-transformers-5.json"])
    func sevenB(file: String) throws {
        let config = try Self.load(file)
        #expect(config.text.hiddenSize == 3584 && config.text.numHiddenLayers == 28)
        #expect(config.text.numAttentionHeads == 28 && config.text.keyValueHeads == 4 && config.text.headDim == 128)
        #expect(config.text.intermediateSize == 18944 && config.text.vocabSize == 152064)
        #expect(config.text.mropeSections == [16, 24, 24])
        #expect(config.text.ropeBase == 1_000_000 && config.text.rmsNormEpsilon == 1e-6)
        #expect(config.text.declaredDType == "bfloat16")
        #expect(config.tieWordEmbeddings == false)
        #expect(config.vision.outHiddenSize == 3584 && config.vision.inChannels == 3)
        #expect(config.vision.fullattBlockIndexes == [7, 15, 23, 31] && config.vision.windowSize == 112)
        #expect(config.vision.patchInputSize == 1176 && config.vision.mergerHiddenSize == 5120)
        #expect(config.imageTokenId == 151655 && config.visionStartTokenId == 151652)
        #expect(config.style == (file.contains("transformers-5") ? .nested : .flat))
    }

    @Test(arguments: ["qwen2.5-vl-3b-instruct.json", "qwen2.5-vl-3b-transformers-4.52.json"])
    func threeB(file: String) throws {
        let config = try Self.load(file)
        #expect(config.text.hiddenSize == 2048 && config.text.numHiddenLayers == 36)
        #expect(config.text.numAttentionHeads == 16 && config.text.keyValueHeads == 2)
        #expect(config.text.intermediateSize == 11008 && config.text.vocabSize == 151936)
        #expect(config.tieWordEmbeddings)
        #expect(config.vision.outHiddenSize == 2048 && config.vision.depth == 32 && config.vision.hiddenSize == 1280)
        #expect(config.text.mropeSections == [16, 24, 24])
        #expect(config.style == (file.contains("4.52") ? .nested : .flat))
    }

    @Test func flatAndNestedStylesDescribeTheSameModel() throws {
        let flat = try Self.load("qwen2.5-vl-3b-instruct.json")
        let nested = try Self.load("qwen2.5-vl-3b-transformers-4.52.json")
        #expect(flat.vision == nested.vision)
        #expect(flat.text.hiddenSize == nested.text.hiddenSize && flat.text.mropeSections == nested.text.mropeSections)
    }

    @Test func absentVisionFieldsTakeTheSpecDefaults() throws {
        let json =
            #"{"model_type":"qwen2_5_vl","hidden_size":3584,"num_hidden_layers":28,"num_attention_heads":28,"num_key_value_heads":4,"intermediate_size":18944,"vocab_size":152064,"rope_scaling":{"type":"mrope","mrope_section":[16,24,24]},"vision_config":{}}"#
        let config = try Qwen25VLConfiguration(jsonData: Data(json.utf8))
        #expect(config.vision == .defaults)
        #expect(config.vision.depth == 32 && config.vision.hiddenSize == 1280 && config.vision.numHeads == 16)
        #expect(config.vision.intermediateSize == 3420 && config.vision.temporalPatchSize == 2)
    }

    @Test func encodesToTheNestedStyleAndBack() throws {
        let original = try Self.load("qwen2.5-vl-7b-instruct.json")
        let decoded = try Qwen25VLConfiguration(jsonData: JSONEncoder().encode(original))
        #expect(decoded.text == original.text && decoded.vision == original.vision)
        #expect(decoded.style == .nested && decoded.tieWordEmbeddings == original.tieWordEmbeddings)
    }

    // MARK: Errors

    @Test func missingRequiredField() {
        let error = Self.decodeError(#"{"text_config":{"hidden_size":32}}"#)
        #expect(
            error?.description
                == "test.json has no \"text_config.num_hidden_layers\"; a Qwen2.5-VL config.json needs it")
    }

    @Test func wrongType() {
        let error = Self.decodeError(#"{"hidden_size":"big","num_hidden_layers":2}"#)
        #expect(error?.description.contains("\"hidden_size\" in test.json should be an integer") == true)
    }

    @Test func wrongTypeInsideVisionConfig() {
        let error = Self.decodeError(
            #"{"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"vocab_size":128,"vision_config":{"fullatt_block_indexes":"7"}}"#
        )
        #expect(error?.description.contains("\"vision_config.fullatt_block_indexes\" in test.json should be") == true)
    }

    @Test func notJSON() {
        #expect(Self.decodeError("{hidden_size: 1")?.description.contains("test.json is not valid JSON") == true)
    }

    @Test func otherModelTypeIsRefused() {
        let error = Self.decodeError(
            #"{"model_type":"qwen2_vl","hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"vocab_size":128}"#
        )
        #expect(error == .unsupportedModelType(file: "test.json", modelType: "qwen2_vl"))
        #expect(error?.description.contains("only qwen2_5_vl") == true)
    }

    @Test func everyInconsistencyIsListed() {
        let json = #"""
            {"hidden_size":30,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":3,"intermediate_size":64,
             "vocab_size":128,"image_token_id":500,"rope_scaling":{"mrope_section":[2,2]},
             "vision_config":{"hidden_size":20,"num_heads":3,"depth":2,"fullatt_block_indexes":[5],"window_size":100,"out_hidden_size":16,"in_chans":1}}
            """#
        guard case let .invalid(file, problems)? = Self.decodeError(json) else {
            Issue.record("expected .invalid")
            return
        }
        #expect(file == "test.json")
        let text = problems.joined(separator: "\n")
        for fragment in [
            "hidden_size 30 is not divisible by num_attention_heads 4",
            "num_attention_heads 4 is not a multiple of num_key_value_heads 3",
            "vision_config.hidden_size 20 is not divisible by num_heads 3",
            "fullatt_block_indexes holds 5, outside the 2 blocks",
            "window_size 100 is not a multiple of patch_size x spatial_merge_size = 28",
            "out_hidden_size 16 differs from the text hidden_size 30",
            "in_channels is 1",
            "image_token_id 500 is outside the vocabulary of 128 tokens",
        ] {
            #expect(text.contains(fragment), "missing: \(fragment)")
        }
    }

    @Test func mropeSectionsMustCoverHalfTheHeadWidth() {
        let json =
            #"{"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"vocab_size":128,"image_token_id":1,"video_token_id":2,"vision_start_token_id":3,"vision_end_token_id":4,"rope_scaling":{"mrope_section":[2,2,2]},"vision_config":{"out_hidden_size":32}}"#
        #expect(
            Self.decodeError(json)
                == .invalid(
                    file: "test.json", problems: ["mrope_section [2, 2, 2] sums to 6; it must sum to head_dim/2 = 4"]))
    }

    @Test func mropeSectionsAreRequired() {
        let json =
            #"{"hidden_size":32,"num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":64,"vocab_size":128,"image_token_id":1,"video_token_id":2,"vision_start_token_id":3,"vision_end_token_id":4,"vision_config":{"out_hidden_size":32}}"#
        #expect(
            Self.decodeError(json)?.description.contains("no mrope_section in rope_scaling or rope_parameters") == true)
    }

    @Test func missingConfigFile() throws {
        let folder = try Fixtures.temporaryDirectory("no-config")
        #expect {
            try Qwen25VLConfiguration(contentsOf: folder)
        } throws: { error in
            "\(error)".contains("cannot read \(folder.path)/config.json") && "\(error)".contains("needs config.json")
        }
    }
}
