import Foundation
import Qwen25VL
import TestSupport
import Testing

@Suite("inspect: the report behind `lychee-rerank inspect`")
struct CheckpointInspectionTests {
    /// The layout fixtures under Fixtures/models are checkpoints without a tokenizer (their 128-token
    /// vocabularies cannot hold a byte-level one): inspect reports that, and nothing else for the good ones.
    static func expectOnlyMissingTokenizer(_ report: CheckpointInspection) {
        let missing = CheckpointInspection.missingTokenizerProblem(
            file: URL(fileURLWithPath: report.directory).appendingPathComponent("tokenizer.json"))
        #expect(report.problems == [missing])
    }

    @Test func legacyUntiedReport() throws {
        let report = CheckpointInspection(directory: Fixtures.url("models/tiny-legacy-untied"))
        Self.expectOnlyMissingTokenizer(report)
        #expect(report.layout == .legacy && report.tiedEmbeddings == false && !report.lmHeadIgnored)
        #expect(report.dtypes == ["BF16": 57])
        #expect(report.shards.map(\.file) == ["model.safetensors"])
        #expect(report.preprocessorFromFile && report.preprocessor?.maxPixels == 12_845_056)
        let text = report.rendered()
        #expect(text.contains("Architecture:  Qwen2.5-VL (custom size) (text 32 x 2 layers, vision 16 x 2 blocks)"))
        #expect(text.contains("Layout:        legacy (model.*, visual.*); separate lm_head"))
        #expect(text.contains("Problems:      1\n  - \(report.problems[0])"))
        #expect(text.contains("Config style:  flat"))
    }

    @Test func nestedShardedTiedReportAsJSON() throws {
        let report = CheckpointInspection(directory: Fixtures.url("models/tiny-nested-sharded-tied"))
        Self.expectOnlyMissingTokenizer(report)
        #expect(report.layout == .nested && report.tiedEmbeddings == true)
        #expect(report.dtypes == ["F32": 26, "BF16": 30])
        #expect(report.shards.count == 2)
        #expect(!report.preprocessorFromFile && report.preprocessor == .lychee)
        let object = try #require(JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["layout"] as? String == "nested")
        #expect(object["usable"] as? Bool == false)
        #expect(object["tied_embeddings"] as? Bool == true)
        #expect((object["shards"] as? [[String: Any]])?.count == 2)
        #expect(object["parameter_count"] as? Int == report.parameterCount)
        #expect(report.rendered().contains("Shards:        2 files"))
        #expect(report.rendered().contains("Text:          hidden 32, layers 2, heads 4 (kv 2, head dim 8)"))
    }

    @Test func tiedWithStoredHeadIsNoted() {
        let report = CheckpointInspection(directory: Fixtures.url("models/tiny-tied-with-lm-head"))
        Self.expectOnlyMissingTokenizer(report)
        #expect(report.lmHeadIgnored)
        #expect(report.rendered().contains("stored lm_head.weight ignored"))
    }

    @Test func brokenNamesAreAllListed() {
        let report = CheckpointInspection(directory: Fixtures.url("models/broken-names"))
        #expect(!report.isUsable)
        #expect(report.problems.count == 4)  // three tensors and the tokenizer
        #expect(report.rendered().contains("Problems:      4"))
        #expect(report.problems.contains("missing tensor model.layers.1.mlp.up_proj.weight (expected shape [64, 32])"))
    }

    @Test func unsupportedDTypeIsAProblem() {
        let report = CheckpointInspection(directory: Fixtures.url("models/broken-dtype"))
        #expect(!report.isUsable)
        #expect(report.problems.contains { $0.contains("has dtype F64; only BF16, F16, F32, F8_E4M3 are supported") })
        #expect(report.architecture == "Qwen2.5-VL (custom size)")
    }

    @Test func emptyDirectoryReportsEveryMissingPiece() throws {
        let report = CheckpointInspection(directory: try Fixtures.temporaryDirectory("inspect-empty"))
        #expect(!report.isUsable)
        #expect(report.problems.count == 3)
        #expect(report.problems.contains { $0.contains("config.json") })
        #expect(report.problems.contains { $0.contains("tokenizer.json is missing") })
        #expect(report.problems.contains { $0.contains("holds no checkpoint") })
        #expect(report.architecture == nil && report.parameterCount == nil)
    }

    @Test func sevenBConfigIsNamed() throws {
        let folder = try Fixtures.temporaryDirectory("inspect-7b")
        try FileManager.default.copyItem(
            at: Fixtures.url("models/configs/qwen2.5-vl-7b-instruct.json"),
            to: folder.appendingPathComponent("config.json"))
        let report = CheckpointInspection(directory: folder)
        #expect(report.architecture == "Qwen2.5-VL 7B-like")
        #expect(report.rendered().contains("Parameters:    8,292,166,656 (8.29 B)"))
    }
}
