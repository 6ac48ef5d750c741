import Qwen25VL

/// Builds the token ids of Lychee prompts (layout in `LycheePromptFormat`).
///
/// The ids are exactly what the reference pipeline computes: the chat template rendered to one string
/// (one `<|image_pad|>` per image), tokenized as a whole with special tokens parsed, each `<|image_pad|>`
/// then repeated to the image's merged token count.
///
/// Truncation policy, when the prompt is longer than `maxLength`:
/// - Only the document's text is shortened, from its end, to a prefix of whole characters (grapheme
///   clusters; never inside a UTF-8 sequence). Images are never cut, nor is the query or instruction.
/// - The prompt is re-rendered and re-tokenized with the shortened text, so the ids are exactly those of
///   the prompt whose document text is that prefix, and the score is the model's true score for it.
/// - The prefix is the longest one found by a bounded search (interpolation alternating with bisection,
///   at most 64 tokenizations). Token counts grow with the prefix almost monotonically; where BPE merges
///   make them dip, a prefix a few characters shorter than the absolute longest may be chosen.
/// - If the prompt with no document text still does not fit, a `PromptError` says whether the query side
///   (`queryTooLong`) or the document's images (`documentImagesTooLong`) are too large.
/// - `truncationDirection` `.left` keeps a suffix of the text instead of a prefix; with `allowsTruncation`
///   false a prompt that does not fit is an error (`documentTooLong`) rather than cut.
/// - `maxDocumentTokens` first cuts the document text alone to that many tokens (Cohere's
///   `max_tokens_per_doc`), counted by tokenizing the text by itself, in the same direction; the prompt
///   then reports a truncation even when it fits `maxLength`.
public struct PromptBuilder: Sendable {
    /// The tokenizer used for every prompt.
    public let tokenizer: any PromptTokenizing
    /// Longest prompt, in tokens, that `encode` returns.
    public internal(set) var maxLength: Int
    /// Most tokens of a document's own text (tokenized alone); nil for no such cap.
    public internal(set) var maxDocumentTokens: Int?
    /// Which end of the document text is cut.
    public internal(set) var truncationDirection = TruncationDirection.right
    /// Whether a prompt longer than `maxLength` is cut (true) or refused with `documentTooLong`.
    public internal(set) var allowsTruncation = true
    /// Patches merged per side by the vision tower (2).
    public let spatialMergeSize: Int

    let imagePadID: Int32
    let visionStartID: Int32
    let visionEndID: Int32

    /// A builder over `tokenizer`, which must know the Qwen2.5-VL vision tokens.
    public init(
        tokenizer: any PromptTokenizing,
        maxLength: Int = LycheePromptFormat.maxLength,
        spatialMergeSize: Int = 2
    ) throws(PromptError) {
        guard maxLength > 0 else { throw .invalidMaxLength(maxLength) }
        func id(_ token: String) throws(PromptError) -> Int32 {
            guard let value = tokenizer.tokenID(token) else { throw .missingSpecialToken(token) }
            return value
        }
        self.tokenizer = tokenizer
        self.maxLength = maxLength
        self.spatialMergeSize = spatialMergeSize
        imagePadID = try id(LycheePromptFormat.imagePad)
        visionStartID = try id(LycheePromptFormat.visionStart)
        visionEndID = try id(LycheePromptFormat.visionEnd)
    }

    /// The chat-template text of a pair, one `<|image_pad|>` per image (what the reference tokenizes).
    public func render(query: PromptSegment, document: PromptSegment, instruction: String? = nil) -> String {
        render(query: query, document: document, documentText: document.text, instruction: instruction)
    }

    /// Builds the prompt of a pair, truncating the document text if it is longer than `maxLength`.
    ///
    /// - Parameter instruction: the task instruction; nil uses `LycheePromptFormat.defaultInstruction`.
    public func encode(
        query: PromptSegment, document: PromptSegment, instruction: String? = nil
    ) throws(PromptError) -> EncodedPrompt {
        try validate(query: query, document: document, instruction: instruction)
        let capped = try cappedToDocumentTokens(document)
        let full = try tokenize(
            query: query, document: capped.document, documentText: capped.document.text, instruction: instruction)
        var prompt: EncodedPrompt
        if full.count <= maxLength {
            prompt = full.expanded(query: query, document: capped.document)
        } else {
            guard allowsTruncation else { throw .documentTooLong(tokens: full.count, maxLength: maxLength) }
            prompt = try truncated(query: query, document: capped.document, instruction: instruction, full: full)
        }
        guard let original = capped.originalCharacters else { return prompt }
        // The text was capped first: report the cut against the whole original text.
        let uncapped = try tokenize(
            query: query, document: document, documentText: document.text, instruction: instruction)
        prompt.truncation = PromptTruncation(
            originalTokenCount: uncapped.count, keptTokenCount: prompt.count, originalDocumentCharacters: original,
            keptDocumentCharacters: prompt.truncation?.keptDocumentCharacters ?? capped.document.text.count)
        return prompt
    }

    // MARK: Rendering and tokenizing

    func render(query: PromptSegment, document: PromptSegment, documentText: String, instruction: String?) -> String {
        let image = LycheePromptFormat.visionStart + LycheePromptFormat.imagePad + LycheePromptFormat.visionEnd
        var text = LycheePromptFormat.systemTurnStart + LycheePromptFormat.systemPrompt
        text += LycheePromptFormat.userTurnStart
        text += LycheePromptFormat.instructionPrefix + (instruction ?? LycheePromptFormat.defaultInstruction)
        text += LycheePromptFormat.queryPrefix
        text += String(repeating: image, count: query.images.count) + query.text
        text += LycheePromptFormat.documentPrefix
        text += String(repeating: image, count: document.images.count) + documentText
        text += LycheePromptFormat.assistantTurnStart
        return text
    }

    /// A tokenized prompt before its image placeholders are expanded.
    struct Tokenized {
        var ids: [Int32]
        var padIndices: [Int]
        var mergedCounts: [Int]
        /// Length after expansion.
        var count: Int { ids.count + mergedCounts.reduce(0, +) - mergedCounts.count }

        func expanded(query: PromptSegment, document: PromptSegment) -> EncodedPrompt {
            var out = [Int32]()
            out.reserveCapacity(count)
            var blocks = [PromptImageBlock]()
            let sides =
                query.images.enumerated().map { (PromptImageBlock.Side.query, $0.offset, $0.element) }
                + document.images.enumerated().map { (PromptImageBlock.Side.document, $0.offset, $0.element) }
            var previous = 0
            for (k, pad) in padIndices.enumerated() {
                out += ids[previous..<pad]
                blocks.append(
                    PromptImageBlock(
                        side: sides[k].0, indexInSide: sides[k].1, grid: sides[k].2, padStart: out.count,
                        padCount: mergedCounts[k]))
                out += repeatElement(ids[pad], count: mergedCounts[k])
                previous = pad + 1
            }
            out += ids[previous...]
            return EncodedPrompt(tokenIDs: out, imageBlocks: blocks, truncation: nil)
        }
    }

    func tokenize(
        query: PromptSegment, document: PromptSegment, documentText: String, instruction: String?
    ) throws(PromptError) -> Tokenized {
        let text = render(query: query, document: document, documentText: documentText, instruction: instruction)
        let ids = tokenizer.encode(text)
        let images = query.images.count + document.images.count
        let pads = ids.indices.filter { ids[$0] == imagePadID }
        let wellFormed = pads.allSatisfy { i in
            i > 0 && i + 1 < ids.count && ids[i - 1] == visionStartID && ids[i + 1] == visionEndID
        }
        guard pads.count == images, wellFormed else {
            throw .placeholderMismatch(expectedImages: images, foundPads: pads.count)
        }
        let merged = (query.images + document.images).map { $0.mergedTokenCount(spatialMergeSize: spatialMergeSize) }
        return Tokenized(ids: ids, padIndices: pads, mergedCounts: merged)
    }

    // MARK: Validation

    func validate(query: PromptSegment, document: PromptSegment, instruction: String?) throws(PromptError) {
        let texts = [("instruction", instruction ?? ""), ("query", query.text), ("document", document.text)]
        for (field, text) in texts {
            if let marker = LycheePromptFormat.reservedVisionMarker(in: text) {
                throw .textContainsVisionMarker(field: field, marker: marker)
            }
        }
        for (side, segment) in [(PromptImageBlock.Side.query, query), (.document, document)] {
            for (index, grid) in segment.images.enumerated() {
                do {
                    try grid.validate(spatialMergeSize: spatialMergeSize)
                } catch {
                    throw .invalidImage(side: side, index: index, reason: error.description)
                }
            }
        }
    }
}
