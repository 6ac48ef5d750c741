/// Shortening the document text until the prompt fits (policy documented on `PromptBuilder`).
extension PromptBuilder {
    /// Most tokenizations one truncation may run.
    static let maxTruncationProbes = 64

    func truncated(
        query: PromptSegment, document: PromptSegment, instruction: String?, full: Tokenized
    ) throws(PromptError) -> EncodedPrompt {
        let bare = PromptSegment(text: "", images: [])
        let withoutDocument = try tokenize(query: query, document: bare, documentText: "", instruction: instruction)
        guard withoutDocument.count <= maxLength else {
            throw .queryTooLong(tokens: withoutDocument.count, maxLength: maxLength)
        }
        let imagesOnly =
            document.images.isEmpty
            ? withoutDocument
            : try tokenize(query: query, document: document, documentText: "", instruction: instruction)
        guard imagesOnly.count <= maxLength else {
            throw .documentImagesTooLong(tokens: imagesOnly.count, maxLength: maxLength)
        }
        let pieces = TextPieces(document.text, direction: truncationDirection)
        let (kept, best) = try longestFitting(
            count: pieces.characterCount, limit: maxLength, empty: (imagesOnly.count, imagesOnly), fullCost: full.count
        ) { characters throws(PromptError) in
            let candidate = try tokenize(
                query: query, document: document, documentText: pieces.piece(characters), instruction: instruction)
            return (candidate.count, candidate)
        }
        var result = best.expanded(query: query, document: document)
        result.truncation = PromptTruncation(
            originalTokenCount: full.count, keptTokenCount: result.count,
            originalDocumentCharacters: pieces.characterCount, keptDocumentCharacters: kept)
        return result
    }

    /// The document with its text cut to `maxDocumentTokens` tokens (the text tokenized alone), and the
    /// original character count when it was cut.
    func cappedToDocumentTokens(
        _ document: PromptSegment
    ) throws(PromptError) -> (document: PromptSegment, originalCharacters: Int?) {
        guard let cap = maxDocumentTokens, !document.text.isEmpty else { return (document, nil) }
        let fullCount = tokenizer.encode(document.text).count
        guard fullCount > cap else { return (document, nil) }
        let pieces = TextPieces(document.text, direction: truncationDirection)
        let (kept, _) = longestFitting(count: pieces.characterCount, limit: cap, empty: (0, ()), fullCost: fullCount) {
            (tokenizer.encode(pieces.piece($0)).count, ())
        }
        var capped = document
        capped.text = pieces.piece(kept)
        return (capped, pieces.characterCount)
    }

    /// The largest `k` in `0..<count` whose cost is within `limit`, with what `probe` returned for it, where
    /// `k = 0` costs `empty` and `k = count` costs `fullCost` (more than `limit`).
    ///
    /// Costs grow with `k` almost monotonically (BPE merges make them dip here and there); the search
    /// keeps the invariant "`lo` fits, `hi` does not" and alternates interpolation with bisection, at most
    /// `maxTruncationProbes` probes, so a `k` a little below the absolute largest may be returned.
    func longestFitting<Value, Failure: Error>(
        count: Int, limit: Int, empty: (cost: Int, value: Value), fullCost: Int,
        probe: (Int) throws(Failure) -> (cost: Int, value: Value)
    ) throws(Failure) -> (Int, Value) {
        var lo = 0, loCost = empty.cost, best = empty.value
        var hi = count, hiCost = fullCost
        var bisectNext = false
        var probes = 0
        while hi - lo > 1, probes < Self.maxTruncationProbes {
            probes += 1
            let width = hi - lo
            var k: Int
            if bisectNext {
                k = lo + width / 2
            } else {
                let fraction = Double(limit - loCost) / Double(max(1, hiCost - loCost))
                k = lo + Int((Double(width) * fraction).rounded(.down))
            }
            k = min(max(k, lo + 1), hi - 1)
            let candidate = try probe(k)
            if candidate.cost <= limit {
                (lo, loCost, best) = (k, candidate.cost, candidate.value)
            } else {
                (hi, hiCost) = (k, candidate.cost)
            }
            // An interpolation step that did not halve the interval is followed by a bisection step.
            bisectNext = !bisectNext && (hi - lo) * 2 > width
        }
        return (lo, best)
    }
}

/// A text cut into whole characters (grapheme clusters; never inside a UTF-8 sequence) from one end.
struct TextPieces {
    private let bytes: [UInt8]
    /// UTF-8 offset of the start of each character, plus the end.
    private let offsets: [Int]
    let direction: TruncationDirection

    init(_ text: String, direction: TruncationDirection) {
        bytes = Array(text.utf8)
        var offsets = [0]
        offsets.reserveCapacity(bytes.count / 2 + 2)
        for character in text { offsets.append(offsets[offsets.count - 1] + character.utf8.count) }
        self.offsets = offsets
        self.direction = direction
    }

    /// Characters in the text.
    var characterCount: Int { offsets.count - 1 }

    /// The first (`.right`: the end is cut) or last (`.left`: the start is cut) `characters` characters.
    func piece(_ characters: Int) -> String {
        switch direction {
        case .right:
            return String(decoding: bytes[0..<offsets[characters]], as: UTF8.self)
        case .left:
            return String(decoding: bytes[offsets[characterCount - characters]...], as: UTF8.self)
        }
    }
}
