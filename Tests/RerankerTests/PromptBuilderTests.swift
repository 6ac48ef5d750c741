import Qwen25VL
import Reranker
import TensorKit
import Testing

@Suite struct PromptBuilderTests {
    @Test func fixturesPresent() {
        #expect(PromptFixtures.cases.count >= 16)
        #expect(PromptFixtures.tableCases.count >= 13)
    }

    /// Reference ids (transformers processor + real Qwen2 tokenizer) on a table tokenizer: checks the
    /// rendered text (the table only knows the reference's texts), the pad expansion and the block positions.
    @Test(arguments: PromptFixtures.tableCases)
    func matchesReference(_ fixture: PromptFixtures.Case) throws {
        let builder = try PromptBuilder(tokenizer: TableTokenizer(fixture.encodings), maxLength: fixture.maxLength)
        if let error = fixture.promptError {
            #expect(throws: error) {
                try builder.encode(
                    query: fixture.query.segment, document: fixture.document.segment, instruction: fixture.instruction)
            }
            return
        }
        let expected = try #require(fixture.expected)
        let prompt = try builder.encode(
            query: fixture.query.segment, document: fixture.document.segment, instruction: fixture.instruction)
        #expect(prompt.tokenIDs == expected.inputIDs)
        #expect(prompt.imageBlocks.map(\.padStart) == expected.imagePadStarts)
        #expect(prompt.imageGrids == fixture.query.segment.images + fixture.document.segment.images)
        #expect(!prompt.wasTruncated)
        for block in prompt.imageBlocks {
            #expect(block.padCount == block.grid.mergedTokenCount())
            #expect(prompt.tokenIDs[block.blockRange.lowerBound] == 151652)
            #expect(prompt.tokenIDs[block.blockRange.upperBound - 1] == 151653)
            #expect(prompt.tokenIDs[block.padRange].allSatisfy { $0 == 151655 })
        }
        #expect(prompt.tokenIDs.last == 198)  // "\n" after "assistant": the scored token
    }

    @Test func renderedLayout() throws {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer())
        let image = VisionGrid(t: 1, h: 2, w: 2)
        let text = builder.render(
            query: PromptSegment(text: "q", images: [image]),
            document: PromptSegment(text: "d", images: [image, image]), instruction: "I")
        let block = "<|vision_start|><|image_pad|><|vision_end|>"
        #expect(
            text == "<|im_start|>system\n" + LycheePromptFormat.systemPrompt
                + "<|im_end|>\n<|im_start|>user\n<Instruct>: I<Query>:" + block + "q\n<Document>:" + block + block
                + "d<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func defaultInstructionUsedWhenNil() throws {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer())
        let text = builder.render(query: PromptSegment(text: "q"), document: PromptSegment(text: "d"))
        #expect(text.contains("<Instruct>: " + LycheePromptFormat.defaultInstruction + "<Query>:q\n<Document>:d"))
    }

    @Test func imageBlocksReportSidesAndPositions() throws {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer())
        let prompt = try builder.encode(
            query: PromptSegment(text: "", images: [VisionGrid(t: 1, h: 4, w: 6)]),
            document: PromptSegment(text: "doc", images: [VisionGrid(t: 1, h: 2, w: 2), VisionGrid(t: 1, h: 2, w: 4)]))
        #expect(prompt.imageBlocks.map(\.side) == [.query, .document, .document])
        #expect(prompt.imageBlocks.map(\.indexInSide) == [0, 0, 1])
        #expect(prompt.imageBlocks.map(\.padCount) == [6, 1, 2])
        // The positions helper accepts the prompt as is.
        let positions = try multimodalRopePositions(tokenIDs: prompt.tokenIDs, imageGrids: prompt.imageGrids)
        #expect(positions.count == prompt.count)
    }

    @Test(arguments: LycheePromptFormat.reservedVisionMarkers)
    func visionMarkersInTextRejected(_ marker: String) throws {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer())
        #expect(throws: PromptError.textContainsVisionMarker(field: "document", marker: marker)) {
            try builder.encode(query: PromptSegment(text: "q"), document: PromptSegment(text: "a\(marker)b"))
        }
        #expect(throws: PromptError.textContainsVisionMarker(field: "query", marker: marker)) {
            try builder.encode(query: PromptSegment(text: marker), document: PromptSegment(text: "d"))
        }
        #expect(throws: PromptError.textContainsVisionMarker(field: "instruction", marker: marker)) {
            try builder.encode(query: PromptSegment(), document: PromptSegment(), instruction: "x\(marker)")
        }
        let message = PromptError.textContainsVisionMarker(field: "query", marker: marker).description
        #expect(message.contains("query text contains the reserved marker \(marker)"))
    }

    @Test("the marker search: byte for byte, the first by position, near misses and other scripts pass")
    func reservedMarkerSearch() {
        #expect(LycheePromptFormat.reservedVisionMarker(in: "") == nil)
        #expect(LycheePromptFormat.reservedVisionMarker(in: "<") == nil)
        #expect(LycheePromptFormat.reservedVisionMarker(in: "a <| b |> <|image_pad| <|vision_start>") == nil)
        #expect(LycheePromptFormat.reservedVisionMarker(in: "<|IMAGE_PAD|> <|im_start|> <|endoftext|>") == nil)
        #expect(LycheePromptFormat.reservedVisionMarker(in: "日本語<|video_pad|>é<|image_pad|>") == "<|video_pad|>")
        #expect(LycheePromptFormat.reservedVisionMarker(in: "<<||<|vision_end|>") == "<|vision_end|>")
        #expect(LycheePromptFormat.reservedVisionMarker(in: "tail <|vision_pad|>") == "<|vision_pad|>")
        #expect(LycheePromptFormat.reservedVisionMarker(in: "tail <|vision_pad|") == nil)
        // A long text: found at the end, as Foundation's search found it.
        let long = String(repeating: "word <| ", count: 20_000) + "<|image_pad|>"
        #expect(LycheePromptFormat.reservedVisionMarker(in: long) == "<|image_pad|>")
    }

    @Test func invalidGridRejected() throws {
        let builder = try PromptBuilder(tokenizer: ScalarTokenizer())
        let bad = VisionGrid(t: 1, h: 3, w: 4)
        do {
            _ = try builder.encode(query: PromptSegment(text: "q"), document: PromptSegment(images: [bad]))
            Issue.record("expected an error")
        } catch {
            guard case let .invalidImage(side, index, reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(side == .document && index == 0)
            #expect(reason.contains("h=3"))
            #expect(error.description.hasPrefix("Document image 0 is unusable"))
        }
    }

    @Test func nonPositiveMaxLengthRejected() {
        #expect(throws: PromptError.invalidMaxLength(0)) {
            try PromptBuilder(tokenizer: ScalarTokenizer(), maxLength: 0)
        }
        #expect(PromptError.invalidMaxLength(-5).description.contains("not positive"))
    }

    @Test func missingSpecialTokenRejected() {
        struct NoVision: PromptTokenizing {
            func encode(_ text: String) -> [Int32] { [] }
            func tokenID(_ token: String) -> Int32? { token == "<|image_pad|>" ? nil : 1 }
        }
        #expect(throws: PromptError.missingSpecialToken("<|image_pad|>")) { try PromptBuilder(tokenizer: NoVision()) }
        #expect(PromptError.missingSpecialToken("<|image_pad|>").description.contains("tokenizer.json"))
    }

    @Test func tokenizerThatSplitsPlaceholdersRejected() throws {
        /// Treats `<|image_pad|>` as plain text: no pad id appears.
        struct PlainText: PromptTokenizing {
            func encode(_ text: String) -> [Int32] { text.unicodeScalars.map { Int32($0.value) } }
            func tokenID(_ token: String) -> Int32? { qwen2SpecialTokens[token] }
        }
        let builder = try PromptBuilder(tokenizer: PlainText())
        #expect(throws: PromptError.placeholderMismatch(expectedImages: 1, foundPads: 0)) {
            try builder.encode(query: PromptSegment(images: [VisionGrid(t: 1, h: 2, w: 2)]), document: PromptSegment())
        }
        #expect(
            PromptError.placeholderMismatch(expectedImages: 1, foundPads: 0).description
                .contains("single special tokens"))
    }
}
