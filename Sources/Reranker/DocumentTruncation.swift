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
        let imagesOnly = document.images.isEmpty
            ? withoutDocument
            : try tokenize(query: query, document: document, documentText: "", instruction: instruction)
        guard imagesOnly.count <= maxLength else {
            throw .documentImagesTooLong(tokens: imagesOnly.count, maxLength: maxLength)
        }

        // UTF-8 offset of the start of each character, plus the end: prefixes never split a character.
        let bytes = Array(document.text.utf8)
        var offsets = [0]
        offsets.reserveCapacity(bytes.count / 2 + 2)
        for character in document.text { offsets.append(offsets[offsets.count - 1] + character.utf8.count) }
        let characterCount = offsets.count - 1
        func prefix(_ characters: Int) -> String {
            String(decoding: bytes[0..<offsets[characters]], as: UTF8.self)
        }

        // Invariant: `lo` characters fit (with tokenization `best`), `hi` characters do not.
        var lo = 0, loCount = imagesOnly.count, best = imagesOnly
        var hi = characterCount, hiCount = full.count
        var bisectNext = false
        var probes = 0
        while hi - lo > 1, probes < Self.maxTruncationProbes {
            probes += 1
            let width = hi - lo
            var probe: Int
            if bisectNext {
                probe = lo + width / 2
            } else {
                let fraction = Double(maxLength - loCount) / Double(max(1, hiCount - loCount))
                probe = lo + Int((Double(width) * fraction).rounded(.down))
            }
            probe = min(max(probe, lo + 1), hi - 1)
            let candidate = try tokenize(
                query: query, document: document, documentText: prefix(probe), instruction: instruction)
            if candidate.count <= maxLength {
                (lo, loCount, best) = (probe, candidate.count, candidate)
            } else {
                (hi, hiCount) = (probe, candidate.count)
            }
            // An interpolation step that did not halve the interval is followed by a bisection step.
            bisectNext = !bisectNext && (hi - lo) * 2 > width
        }

        var result = best.expanded(query: query, document: document)
        result.truncation = PromptTruncation(
            originalTokenCount: full.count, keptTokenCount: result.count,
            originalDocumentCharacters: characterCount, keptDocumentCharacters: lo)
        return result
    }
}
