import Foundation
import Qwen25VL
import TestSupport
import Testing

/// What `inspect` (and model loading, through the same checks) finds in broken copies of the fixture.
@Suite("inspect: tokenizer, non-finite weights, pixel limits and files that are not files")
struct ModelChecksTests {
    /// A copy of tiny-untied-legacy whose `tokenizer.json` has one more added token, with the first id past
    /// the 587-row embedding table.
    static func tokenizerBeyondTable(_ folder: URL) throws {
        let url = folder.appendingPathComponent("tokenizer.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var added = try #require(object["added_tokens"] as? [[String: Any]])
        added.append([
            "id": 587, "content": "<|beyond|>", "single_word": false, "lstrip": false, "rstrip": false,
            "normalized": false, "special": true,
        ])
        object["added_tokens"] = added
        try JSONSerialization.data(withJSONObject: object).write(to: url)
    }

    @Test("the complete fixture folder has no problem")
    func fixtureIsClean() {
        let report = CheckpointInspection(directory: Fixtures.url("checkpoints/tiny-untied-legacy"))
        #expect(report.problems == [])
    }

    @Test("NaN in a norm weight is a problem that names the tensor", arguments: [Float.nan, .infinity])
    func nonFiniteNorm(value: Float) throws {
        let folder = try CheckpointSurgery.copyFixture()
        try CheckpointSurgery.rewrite("model.layers.1.post_attention_layernorm.weight", in: folder) { values in
            var values = values
            values[3] = value
            return values
        }
        let report = CheckpointInspection(directory: folder)
        #expect(!report.isUsable)
        #expect(report.problems.count == 1)
        #expect(
            report.problems.first?.contains(
                "tensor model.layers.1.post_attention_layernorm.weight holds 1 NaN or infinite value (of 64)") == true,
            "\(report.problems)")
    }

    @Test("a missing tokenizer, and added token ids beyond the embedding table, are problems")
    func tokenizerChecks() throws {
        let missing = try CheckpointSurgery.copyFixture()
        try FileManager.default.removeItem(at: missing.appendingPathComponent("tokenizer.json"))
        let missingReport = CheckpointInspection(directory: missing)
        #expect(
            missingReport.problems == [
                CheckpointInspection.missingTokenizerProblem(file: missing.appendingPathComponent("tokenizer.json"))
            ])

        let beyond = try CheckpointSurgery.copyFixture()
        try Self.tokenizerBeyondTable(beyond)
        let report = CheckpointInspection(directory: beyond)
        #expect(report.problems.count == 1)
        #expect(
            report.problems.first?.contains(
                "added token <|beyond|> (id 587) of tokenizer.json lies beyond the 587-row embedding table") == true,
            "\(report.problems)")
    }

    @Test("a min_pixels that makes every image longer than a prompt is a problem")
    func pixelLimits() throws {
        let folder = try CheckpointSurgery.copyFixture()
        let url = folder.appendingPathComponent(PreprocessorConfiguration.fileName)
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        object["min_pixels"] = 4000 * 28 * 28
        object["max_pixels"] = 5000 * 28 * 28
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        let report = CheckpointInspection(directory: folder)
        #expect(report.problems.count == 1)
        #expect(
            report.problems.first?.contains("makes even the smallest image 4000 tokens") == true, "\(report.problems)")
        #expect(CheckpointInspection(directory: folder, maxPromptTokens: 8192).problems == [])

        object["max_pixels"] = (1 << 40) + 1
        try JSONSerialization.data(withJSONObject: object).write(to: url)
        #expect(CheckpointInspection(directory: folder).problems.contains { $0.contains("at most 2^40") })
    }

    @Test(
        "config, preprocessor config and tokenizer that are FIFOs are reported, not waited on",
        arguments: ["config.json", "preprocessor_config.json", "tokenizer.json"])
    func fifoModelFiles(file: String) throws {
        let folder = try CheckpointSurgery.copyFixture()
        let fifo = folder.appendingPathComponent(file)
        try FileManager.default.removeItem(at: fifo)
        try NamedPipe.make(at: fifo)
        let problems = NamedPipe.withTimeLimit(5, unblocking: fifo) { CheckpointInspection(directory: folder).problems }
        let found = try #require(problems, "inspect blocked opening the FIFO \(file)")
        #expect(
            found.contains { $0.contains(file) && $0.contains("FIFO (named pipe), not a regular file") }, "\(found)")
    }
}
