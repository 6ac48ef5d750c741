import Foundation
import Qwen25VL
import SafeTensors
import TestSupport
import Testing

@Suite("inspect on FP8 checkpoints: 8-bit weights, scale granularity and range, in text and JSON")
struct EightBitInspectionTests {
    static let fp8 = Fixtures.url("checkpoints/tiny-fp8")

    /// A copy of the FP8 fixture whose `model.safetensors` tensors pass through `edit` (name, tensor) first.
    static func editedCopy(_ edit: (String, SafeTensorWriter.Tensor) throws -> SafeTensorWriter.Tensor?) throws -> URL {
        let folder = try CheckpointSurgery.copyFixture("tiny-fp8")
        let url = folder.appendingPathComponent("model.safetensors")
        let file = try SafeTensorFile(url: url, loading: .readIntoMemory)
        let tensors = try file.tensorNames.compactMap { name -> SafeTensorWriter.Tensor? in
            let info = try #require(file.tensors[name])
            let tensor = SafeTensorWriter.Tensor(
                name: name, dtype: info.dtype, shape: info.shape, data: Array(try file.bytes(name)))
            return try edit(name, tensor)
        }
        try SafeTensorWriter.write(tensors, metadata: file.metadata, to: url)
        return folder
    }

    @Test func fixtureReport() throws {
        let report = CheckpointInspection(directory: Self.fp8)
        #expect(report.problems == [])
        #expect(report.dtypes == ["BF16": 50, "F32": 44, "F8_E4M3": 43])
        #expect(report.quantMethod == "compressed-tensors")
        let storage = try #require(report.weightStorage)
        #expect(storage.eightBitFormat == "F8_E4M3" && storage.eightBitWeights == 43)
        #expect(storage.perChannelScales == 41 && storage.perTensorScales == 2 && storage.scaleGranularity == "mixed")
        #expect(storage.inputScalesIgnored == 1 && storage.otherDTypes == ["BF16"])
        let checkpoint = try Checkpoint(directory: Self.fp8)
        let scales = try checkpoint.tensorNames.filter { $0.hasSuffix(".weight_scale") }.flatMap {
            try checkpoint.floats($0)
        }
        #expect(storage.smallestScale == scales.min() && storage.largestScale == scales.max())
        let text = report.rendered()
        #expect(
            text.contains(
                "\nWeights:       8-bit E4M3 (43 linear weights, 41 per-channel and 2 per-tensor scales) + BF16 (rest)\n"
            ))
        #expect(
            text.contains(
                "\nScales:        0.000353 ... 0.00177; 1 static input_scale ignored (activations are quantized dynamically)\n"
            ))
        #expect(text.contains("\nQuantization:  compressed-tensors (config.json quantization_config)\n"))
        #expect(text.contains("Problems:      no problems"))
    }

    @Test func fixtureReportAsJSON() throws {
        let report = CheckpointInspection(directory: Self.fp8)
        let object = try #require(JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["usable"] as? Bool == true && object["layout"] as? String == "legacy")
        #expect(object["quant_method"] as? String == "compressed-tensors")
        #expect((object["dtypes"] as? [String: Int])?["F8_E4M3"] == 43)
        let storage = try #require(object["weight_storage"] as? [String: Any])
        #expect(
            storage["summary"] as? String
                == "8-bit E4M3 (43 linear weights, 41 per-channel and 2 per-tensor scales) + BF16 (rest)")
        #expect(storage["eight_bit_format"] as? String == "F8_E4M3" && storage["eight_bit_weights"] as? Int == 43)
        #expect(storage["scale_granularity"] as? String == "mixed")
        #expect(storage["per_channel_scales"] as? Int == 41 && storage["per_tensor_scales"] as? Int == 2)
        #expect(storage["input_scales_ignored"] as? Int == 1 && storage["other_dtypes"] as? [String] == ["BF16"])
        let low = try #require(storage["scale_min"] as? Double), high = try #require(storage["scale_max"] as? Double)
        #expect(Float(low) == report.weightStorage?.smallestScale && Float(high) == report.weightStorage?.largestScale)
    }

    @Test func perChannelOnlyCheckpoint() throws {
        // The two per-tensor scales spread to one value per row: the same weights, per-channel everywhere.
        let folder = try Self.editedCopy { name, tensor in
            guard name.hasSuffix(".weight_scale"), tensor.shape.count < 2 else { return tensor }
            let rows = name.contains("down_proj") ? 64 : 32
            return SafeTensorWriter.Tensor(
                name: name, dtype: .f32, shape: [rows, 1],
                data: Array(repeating: tensor.data, count: rows).flatMap { $0 })
        }
        let report = CheckpointInspection(directory: folder)
        #expect(report.problems == [])
        #expect(report.weightStorage?.scaleGranularity == "per-channel")
        #expect(
            report.rendered().contains(
                "Weights:       8-bit E4M3 (43 linear weights, per-channel scales) + BF16 (rest)"))
    }

    @Test func bf16CheckpointHasNoEightBitWeights() throws {
        let report = CheckpointInspection(directory: Fixtures.url("checkpoints/tiny-untied-legacy"))
        let storage = try #require(report.weightStorage)
        #expect(storage.eightBitWeights == 0 && storage.eightBitFormat == nil && storage.scaleGranularity == nil)
        #expect(storage.smallestScale == nil && storage.summary == "BF16" && storage.scaleRange == nil)
        #expect(report.quantMethod == nil)
        #expect(report.rendered().contains("\nWeights:       BF16\nLayout:"))
        let object = try #require(JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        let json = try #require(object["weight_storage"] as? [String: Any])
        #expect(
            json["summary"] as? String == "BF16" && json["eight_bit_format"] is NSNull && json["scale_min"] is NSNull)
        #expect(object["quant_method"] is NSNull)
    }

    @Test func missingScaleIsAProblem() throws {
        let name = "visual.merger.mlp.2.weight"
        let folder = try Self.editedCopy { $0 == name + "_scale" ? nil : $1 }
        let report = CheckpointInspection(directory: folder)
        #expect(report.problems == [WeightProblem.scaleMissing(weight: name, scale: name + "_scale").description])
        #expect(report.weightStorage?.eightBitWeights == 43 && report.weightStorage?.perChannelScales == 40)
    }

    @Test func unsupportedQuantizationIsAProblem() throws {
        let folder = try CheckpointSurgery.copyFixture("tiny-fp8")
        let url = folder.appendingPathComponent("config.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object["quantization_config"] = ["quant_method": "awq", "bits": 4]
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let report = CheckpointInspection(directory: folder)
        #expect(
            report.problems.contains(
                "\(url.path) declares unsupported quantization awq; use a bf16 or FP8 (E4M3) checkpoint"))
    }
}
