import Foundation
import Qwen25VL
import TestSupport
import Testing

@Suite("config.json quantization_config: FP8 (E4M3) accepted, every other scheme refused by name")
struct QuantizationConfigurationTests {
    /// The FP8 fixture's config.json with `quantization_config` replaced by the JSON object `quantization`.
    static func config(quantization: String) throws -> Data {
        let url = Fixtures.url("checkpoints/tiny-fp8/config.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object["quantization_config"] = try JSONSerialization.jsonObject(with: Data(quantization.utf8))
        return try JSONSerialization.data(withJSONObject: object)
    }

    static func error(quantization: String) throws -> ConfigurationError? {
        let data = try config(quantization: quantization)
        do throws(ConfigurationError) {
            _ = try Qwen25VLConfiguration(jsonData: data, file: "config.json")
            return nil
        } catch {
            return error
        }
    }

    /// A compressed-tensors `quantization_config` with one scheme whose weights are `weights`.
    static func compressedTensors(format: String = "float-quantized", weights: String) -> String {
        #"{"quant_method": "compressed-tensors", "format": ""# + format
            + #"", "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": null, "weights": "#
            + weights + "}}}"
    }

    @Test func compressedTensorsFixtureConfigIsAccepted() throws {
        let config = try Qwen25VLConfiguration(contentsOf: Fixtures.url("checkpoints/tiny-fp8"))
        let quantization = try #require(config.quantization)
        #expect(quantization.quantMethod == "compressed-tensors" && quantization.format == "float-quantized")
        #expect(quantization.configGroups?["group_0"]?.weights?.strategy == "channel")
        #expect(quantization.configGroups?["group_1"]?.weights?.strategy == "tensor")
        #expect(quantization.unsupportedDescription == nil)
        let plain = try Qwen25VLConfiguration(contentsOf: Fixtures.url("checkpoints/tiny-untied-legacy"))
        #expect(plain.quantization == nil)
    }

    @Test func quantizationSurvivesEncoding() throws {
        let config = try Qwen25VLConfiguration(contentsOf: Fixtures.url("checkpoints/tiny-fp8"))
        let decoded = try Qwen25VLConfiguration(jsonData: JSONEncoder().encode(config))
        #expect(decoded.quantization == config.quantization && decoded.quantization != nil)
    }

    @Test(arguments: [
        #"{"quant_method": "fp8", "activation_scheme": "dynamic"}"#,
        #"{"quant_method": "fp8", "activation_scheme": "static", "ignored_layers": ["lm_head"]}"#,
        compressedTensors(weights: #"{"num_bits": 8, "type": "float", "strategy": "tensor"}"#),
        compressedTensors(
            format: "naive-quantized", weights: #"{"num_bits": 8, "type": "float", "strategy": "channel"}"#),
    ])
    func eightBitFloatMethodsAreAccepted(quantization: String) throws {
        #expect(try Self.error(quantization: quantization) == nil)
    }

    @Test(arguments: [
        (#"{"quant_method": "awq", "bits": 4, "group_size": 128}"#, "awq"),
        (#"{"quant_method": "gptq", "bits": 4}"#, "gptq"),
        (#"{"quant_method": "bitsandbytes", "load_in_4bit": true}"#, "bitsandbytes"),
        (#"{"bits": 8}"#, "without a quant_method"),
        (
            #"{"quant_method": "fp8", "weight_block_size": [128, 128]}"#,
            "fp8 with block-wise scales (weight_block_size [128, 128])"
        ),
        (
            compressedTensors(
                format: "pack-quantized", weights: #"{"num_bits": 4, "type": "int", "strategy": "group"}"#),
            "compressed-tensors (format pack-quantized)"
        ),
        (
            compressedTensors(
                format: "int-quantized", weights: #"{"num_bits": 8, "type": "int", "strategy": "channel"}"#),
            "compressed-tensors (format int-quantized)"
        ),
        (
            compressedTensors(weights: #"{"num_bits": 8, "type": "int", "strategy": "channel"}"#),
            "compressed-tensors (8-bit int weights in group_0)"
        ),
        (
            compressedTensors(weights: #"{"num_bits": 4, "type": "float", "strategy": "tensor"}"#),
            "compressed-tensors (4-bit float weights in group_0)"
        ),
        (
            compressedTensors(weights: #"{"num_bits": 8, "type": "float", "strategy": "block"}"#),
            "compressed-tensors (block-wise weight scales in group_0)"
        ),
    ])
    func otherMethodsAreRefusedByName(quantization: String, named: String) throws {
        let error = try #require(try Self.error(quantization: quantization))
        #expect(error == .unsupportedQuantization(file: "config.json", quantization: named))
        #expect(
            error.description
                == "config.json declares unsupported quantization \(named); use a bf16 or FP8 (E4M3) checkpoint")
    }

    @Test func malformedQuantizationConfigNamesTheField() throws {
        let error = try Self.error(quantization: #"{"quant_method": 8}"#)
        #expect(
            error == .wrongType(file: "config.json", field: "quantization_config.quant_method", expected: "a string"))
    }
}
