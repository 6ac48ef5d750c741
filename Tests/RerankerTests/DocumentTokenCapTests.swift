import Qwen25VL
import Reranker
import Testing

/// Per-request truncation choices (`PairPreparationOptions`) on a tokenizer with exactly known behaviour
/// (`ScalarTokenizer`: one token per Unicode scalar).
@Suite struct DocumentTokenCapTests {
    let query = PromptSegment(text: "what is a reranker")
    let text = String(repeating: "abcdefghij", count: 100)

    func builder(maxLength: Int = 1_000_000, _ options: PairPreparationOptions = .init()) throws -> PromptBuilder {
        try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength).applying(options)
    }

    /// The ids of the prompt whose document text is `documentText`, built without any cut.
    func untruncated(_ documentText: String) throws -> [Int32] {
        try builder().encode(query: query, document: PromptSegment(text: documentText)).tokenIDs
    }

    func baseCount() throws -> Int {
        try builder().encode(query: query, document: PromptSegment()).count
    }

    @Test func capsEachDocumentTextToItsOwnTokens() throws {
        let prompt = try builder(.init(maxDocumentTokens: 50)).encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.tokenIDs == (try untruncated(String(text.prefix(50)))))
        // Reported as truncated although the prompt is far below the maximum length.
        #expect(
            prompt.truncation
                == PromptTruncation(
                    originalTokenCount: try baseCount() + 1000, keptTokenCount: try baseCount() + 50,
                    originalDocumentCharacters: 1000, keptDocumentCharacters: 50))
    }

    @Test func capCountsTheDocumentNotThePrompt() throws {
        // A cap below the template's own length still keeps that many document tokens (the old meaning
        // capped the whole prompt and refused the query).
        let prompt = try builder(.init(maxDocumentTokens: 5)).encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.count == (try baseCount()) + 5)
    }

    @Test func shortDocumentsAreNotCut() throws {
        let prompt = try builder(.init(maxDocumentTokens: 50)).encode(
            query: query, document: PromptSegment(text: "short"))
        #expect(!prompt.wasTruncated)
        #expect(prompt.tokenIDs == (try untruncated("short")))
    }

    @Test func leftDirectionKeepsTheEnd() throws {
        let ending = text + "XYZ"
        let capped = try builder(.init(maxDocumentTokens: 7, truncationDirection: .left))
            .encode(query: query, document: PromptSegment(text: ending))
        #expect(capped.tokenIDs == (try untruncated("ghijXYZ")))
        let maxLength = try baseCount() + 4
        let fitted = try builder(maxLength: maxLength, .init(truncationDirection: .left))
            .encode(query: query, document: PromptSegment(text: ending))
        #expect(fitted.tokenIDs == (try untruncated("jXYZ")))
        #expect(fitted.truncation?.keptDocumentCharacters == 4)
    }

    @Test func refusesInsteadOfCuttingWhenTruncationIsOff() throws {
        let maxLength = try baseCount() + 10
        let strict = try builder(maxLength: maxLength, .init(allowsTruncation: false))
        #expect(throws: PromptError.documentTooLong(tokens: maxLength + 990, maxLength: maxLength)) {
            try strict.encode(query: query, document: PromptSegment(text: text))
        }
        #expect(try strict.encode(query: query, document: PromptSegment(text: "0123456789")).count == maxLength)
    }

    @Test func requestLimitsNeverRaiseTheBuildersOwn() throws {
        #expect(try builder(maxLength: 100, .init(maxLength: 500)).maxLength == 100)
        #expect(try builder(maxLength: 100, .init(maxLength: 40)).maxLength == 40)
        #expect(throws: PromptError.invalidMaxLength(0)) { try builder(.init(maxLength: 0)) }
        #expect(throws: PromptError.invalidMaxDocumentTokens(0)) { try builder(.init(maxDocumentTokens: 0)) }
    }

    @Test func emptyDocumentRendersABareDocumentPrefix() throws {
        let rendered = try builder().render(query: query, document: PromptSegment())
        #expect(
            rendered.hasSuffix(
                LycheePromptFormat.documentPrefix + LycheePromptFormat.assistantTurnStart))
    }
}
