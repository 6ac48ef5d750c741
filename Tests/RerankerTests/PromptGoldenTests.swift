// Golden Lychee prompts through the REAL Qwen2 tokenizer (the `Tokenizers` module), including the
// truncation cases that the table tokenizer of `PromptBuilderTests` cannot run.
//
// NEEDS THE TOKENIZERS MODULE (branch `tok`) and its fixture `Fixtures/tokenizer/qwen2-tokenizer.json.gz`.
// `canImport(Tokenizers)` alone is already true on this branch (the placeholder module exists), so the file
// is also behind `PROMPT_GOLDEN_TESTS`. To wire it after the merge: delete `&& PROMPT_GOLDEN_TESTS` below,
// make `Tokenizer` conform (`extension Tokenizer: PromptTokenizing {}`) and adapt `loadQwen2Tokenizer()`
// to the module's loading API if it differs.
#if canImport(Tokenizers)
    import Foundation
    import Reranker
    import TestSupport
    import Testing
    import Tokenizers

    /// The real-vocabulary Qwen2 tokenizer.json, gunzipped into a temporary file.
    func loadQwen2Tokenizer() throws -> any PromptTokenizing {
        let gz = Fixtures.url("tokenizer/qwen2-tokenizer.json.gz")
        let out = try Fixtures.temporaryDirectory("prompt-golden").appendingPathComponent("tokenizer.json")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sh", "-c", "gzip -dc \"$0\" > \"$1\"", gz.path, out.path]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "could not gunzip \(gz.path)")
        return try Tokenizer(contentsOf: out)  // COORDINATOR: adjust to the Tokenizers loading API.
    }

    @Suite struct PromptGoldenTests {
        static let tokenizer: (any PromptTokenizing)? = try? loadQwen2Tokenizer()

        @Test func tokenizerLoads() {
            #expect(Self.tokenizer != nil)
        }

        @Test(arguments: PromptFixtures.cases)
        func matchesReference(_ fixture: PromptFixtures.Case) throws {
            let tokenizer = try #require(Self.tokenizer)
            let builder = try PromptBuilder(tokenizer: tokenizer, maxLength: fixture.maxLength)
            let query = fixture.query.segment, document = fixture.document.segment
            if let error = fixture.promptError {
                #expect(throws: error) {
                    try builder.encode(query: query, document: document, instruction: fixture.instruction)
                }
                return
            }
            let expected = try #require(fixture.expected)
            let prompt = try builder.encode(query: query, document: document, instruction: fixture.instruction)
            #expect(prompt.tokenIDs == expected.inputIDs)
            #expect(prompt.imageBlocks.map(\.padStart) == expected.imagePadStarts)
            if let truncation = expected.truncation {
                #expect(
                    prompt.truncation
                        == PromptTruncation(
                            originalTokenCount: truncation.originalTokenCount,
                            keptTokenCount: truncation.keptTokenCount,
                            originalDocumentCharacters: truncation.originalDocumentCharacters,
                            keptDocumentCharacters: truncation.keptDocumentCharacters))
            } else {
                #expect(!prompt.wasTruncated)
            }
        }

        /// Every text the reference tokenized (full prompts, prompts without document text) gives the same ids.
        @Test(arguments: PromptFixtures.cases)
        func renderedTextsTokenizeLikeTheReference(_ fixture: PromptFixtures.Case) throws {
            let tokenizer = try #require(Self.tokenizer)
            for encoding in fixture.encodings {
                #expect(tokenizer.encode(encoding.text) == encoding.ids)
            }
        }
    }
#endif
