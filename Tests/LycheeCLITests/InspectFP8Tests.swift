import Foundation
import TestSupport
import Testing

@Suite("lychee-rerank inspect on an FP8 checkpoint")
struct InspectFP8Tests {
    static let folder = Fixtures.url("checkpoints/tiny-fp8").path

    @Test("text: the 8-bit weights, their scales and the quantization method; exit 0")
    func text() throws {
        let run = try CommandLineRun.run(["inspect", "--model", Self.folder], seconds: 30)
        #expect(run.status == 0, "\(run.standardOutput)\(run.standardError)")
        #expect(
            run.standardOutput.contains(
                "Weights:       8-bit E4M3 (43 linear weights, 41 per-channel and 2 per-tensor scales) + BF16 (rest)"))
        #expect(run.standardOutput.contains("Scales:        0.000353 ... 0.00177; 1 static input_scale ignored"))
        #expect(run.standardOutput.contains("Quantization:  compressed-tensors"))
    }

    @Test("--json: weight_storage beside the existing fields")
    func json() throws {
        let run = try CommandLineRun.run(["inspect", "--model", Self.folder, "--json"], seconds: 30)
        #expect(run.status == 0, "\(run.standardError)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.standardOutput.utf8)) as? [String: Any])
        let storage = try #require(object["weight_storage"] as? [String: Any])
        #expect(storage["eight_bit_weights"] as? Int == 43 && storage["scale_granularity"] as? String == "mixed")
        for key in [
            "directory", "architecture", "parameter_count", "dtypes", "layout", "tied_embeddings", "lm_head_ignored",
            "shards", "config_style", "text", "vision", "preprocessor", "preprocessor_from_file", "problems", "usable",
        ] {
            #expect(object[key] != nil, "\(key)")
        }
    }
}
