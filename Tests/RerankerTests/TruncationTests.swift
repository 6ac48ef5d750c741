import Qwen25VL
import Reranker
import TensorKit
import Testing

/// Truncation policy on tokenizers with exactly known behaviour (`ScalarTokenizer`: one token per scalar).
@Suite struct TruncationTests {
    let query = PromptSegment(text: "what is a reranker")

    /// Tokens of the prompt whose document has `images` and no text.
    func baseCount(images: [VisionGrid] = []) throws -> Int {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: 1_000_000)
        return try builder.encode(query: query, document: PromptSegment(images: images)).count
    }

    /// The ids `builder` must produce for a document text, built without truncation.
    func untruncated(
        _ document: PromptSegment, tokenizer: some PromptTokenizing = ScalarTokenizer()
    ) throws -> [Int32] {
        try PromptBuilder(tokenizer: tokenizer, maxLength: 10_000_000).encode(query: query, document: document).tokenIDs
    }

    @Test func cutsDocumentTextToTheLongestFittingPrefix() throws {
        let text = String(repeating: "abcdefghij", count: 100)
        let budget = 123
        let maxLength = try baseCount() + budget
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.count == maxLength)
        #expect(prompt.tokenIDs == (try untruncated(PromptSegment(text: String(text.prefix(budget))))))
        #expect(
            prompt.truncation
                == PromptTruncation(
                    originalTokenCount: maxLength - budget + 1000, keptTokenCount: maxLength,
                    originalDocumentCharacters: 1000, keptDocumentCharacters: budget))
        #expect(prompt.tokenIDs.last == 10)  // still ends with the generation prompt's "\n"
    }

    @Test func noTruncationWhenItFitsExactly() throws {
        let maxLength = try baseCount() + 4
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: PromptSegment(text: "four"))
        #expect(prompt.count == maxLength && !prompt.wasTruncated)
    }

    @Test func neverSplitsAGraphemeCluster() throws {
        // "e" + combining acute is one character of two scalars (two tokens here).
        let text = "ab" + String(repeating: "e\u{301}", count: 50)
        let maxLength = try baseCount() + 2 + 2 * 10 + 1  // one token short of an 11th cluster
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.truncation?.keptDocumentCharacters == 12)
        #expect(prompt.count == maxLength - 1)
        #expect(prompt.tokenIDs == (try untruncated(PromptSegment(text: String(text.prefix(12))))))
    }

    @Test func multiScalarEmojiAndCJKKeptWhole() throws {
        let text = String(repeating: "東京👩‍💻", count: 40)  // 👩‍💻 is 3 scalars in one character
        let maxLength = try baseCount() + 2 + 3 + 2 + 2  // room for 東京👩‍💻東京 and 2 more scalars
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.truncation?.keptDocumentCharacters == 5)
        #expect(prompt.tokenIDs == (try untruncated(PromptSegment(text: "東京👩‍💻東京"))))
    }

    @Test func documentImagesAreKeptWhole() throws {
        let images = [VisionGrid(t: 1, h: 8, w: 8), VisionGrid(t: 1, h: 4, w: 2)]
        let maxLength = try baseCount(images: images) + 7
        let document = PromptSegment(text: String(repeating: "z", count: 500), images: images)
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: document)
        #expect(prompt.count == maxLength)
        #expect(prompt.imageBlocks.map(\.padCount) == [16, 2])
        #expect(prompt.truncation?.keptDocumentCharacters == 7)
        #expect(prompt.tokenIDs == (try untruncated(PromptSegment(text: "zzzzzzz", images: images))))
    }

    @Test func allTextCutWhenOnlyTheImagesFit() throws {
        let images = [VisionGrid(t: 1, h: 4, w: 4)]
        let maxLength = try baseCount(images: images)
        let prompt = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: maxLength)
            .encode(query: query, document: PromptSegment(text: "caption", images: images))
        #expect(prompt.truncation?.keptDocumentCharacters == 0)
        #expect(prompt.count == maxLength)
    }

    @Test func hugeDocumentTakesFewTokenizations() throws {
        let text = String(repeating: "lorem ipsum dolor sit amet, ", count: 20_000)  // 560,000 characters
        let tokenizer = ScalarTokenizer()
        let prompt = try PromptBuilder(tokenizer: tokenizer).encode(query: query, document: PromptSegment(text: text))
        #expect(prompt.count == LycheePromptFormat.maxLength)
        #expect(prompt.truncation?.keptDocumentCharacters == LycheePromptFormat.maxLength - (try baseCount()))
        #expect(tokenizer.counter.calls <= 5)  // full, no-document, and interpolation lands at once
    }

    @Test func nonMonotoneTokenCountsStillGiveAnExactFittingPrompt() throws {
        /// "abc" is one token, any other scalar one token: prefixes of "abcabc..." do not grow monotonically.
        struct Merging: PromptTokenizing {
            let scalars = ScalarTokenizer()
            func encode(_ text: String) -> [Int32] {
                var out = [Int32]()
                for id in scalars.encode(text) {
                    out.append(id)
                    if out.suffix(3) == [97, 98, 99] { out.removeLast(3); out.append(-1) }
                }
                return out
            }
            func tokenID(_ token: String) -> Int32? { scalars.tokenID(token) }
        }
        let text = String(repeating: "abc", count: 300) + String(repeating: "x", count: 300)
        for budget in [1, 2, 50, 101, 299] {
            let maxLength = try baseCount() + budget
            let prompt = try PromptBuilder(tokenizer: Merging(), maxLength: maxLength)
                .encode(query: query, document: PromptSegment(text: text))
            let kept = try #require(prompt.truncation?.keptDocumentCharacters)
            #expect(prompt.count <= maxLength)
            let shortened = PromptSegment(text: String(text.prefix(kept)))
            #expect(prompt.tokenIDs == (try untruncated(shortened, tokenizer: Merging())))
            // The longest fitting prefix has 3 * budget characters (budget whole "abc" tokens).
            #expect(kept >= 3 * budget - 2, "budget \(budget): kept \(kept)")
        }
    }

    @Test func queryTooLongIsAnError() throws {
        let longQuery = PromptSegment(text: String(repeating: "q", count: 400))
        let base = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: 1_000_000)
            .encode(query: longQuery, document: PromptSegment()).count
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: 300)
        #expect(throws: PromptError.queryTooLong(tokens: base, maxLength: 300)) {
            try builder.encode(query: longQuery, document: PromptSegment(text: "d"))
        }
        let message = PromptError.queryTooLong(tokens: base, maxLength: 300).description
        #expect(message.contains("take \(base) tokens") && message.contains("maximum length 300"))
    }

    @Test func documentImagesTooLongIsAnError() throws {
        let images = [VisionGrid(t: 1, h: 40, w: 40)]
        let needed = try baseCount(images: images)
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: needed - 1)
        #expect(throws: PromptError.documentImagesTooLong(tokens: needed, maxLength: needed - 1)) {
            try builder.encode(query: query, document: PromptSegment(text: "caption", images: images))
        }
        #expect(
            PromptError.documentImagesTooLong(tokens: needed, maxLength: needed - 1).description
                .contains("images are never cut"))
    }
}
