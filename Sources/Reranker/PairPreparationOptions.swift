import ImageProcessing

/// Which end of a document's text truncation removes.
public enum TruncationDirection: String, Sendable, Hashable, CaseIterable {
    /// Cut the end of the text, keep its start (the default).
    case right
    /// Cut the start of the text, keep its end.
    case left
}

/// Per-request choices for ``Reranker/preparePairs(query:documents:instruction:options:)``: how documents
/// are cut and how large images are made. Every field left nil keeps the reranker's own setting.
public struct PairPreparationOptions: Sendable, Hashable {
    /// Cap on each pair's prompt tokens (query, instruction and template included); the document text is
    /// cut to fit. It never raises the reranker's `options.maxLength`.
    public var maxLength: Int?
    /// Cap on each document text's own tokens (Cohere's `max_tokens_per_doc`): longer texts are cut to
    /// this many tokens, counted by tokenizing the text alone, and reported as truncated.
    public var maxDocumentTokens: Int?
    /// Which end of a document text is cut, by both caps.
    public var truncationDirection: TruncationDirection
    /// When false, a prompt longer than the maximum length is an error instead of being cut
    /// (``PromptError/documentTooLong(tokens:maxLength:)``). `maxDocumentTokens` still applies.
    public var allowsTruncation: Bool
    /// Smallest image area in pixels after resizing; within the reranker's own bounds (lowered to
    /// `maxPixels` when above it).
    public var minPixels: Int?
    /// Largest image area in pixels after resizing; within the reranker's own bounds.
    public var maxPixels: Int?

    /// Options; the defaults change nothing.
    public init(
        maxLength: Int? = nil, maxDocumentTokens: Int? = nil, truncationDirection: TruncationDirection = .right,
        allowsTruncation: Bool = true, minPixels: Int? = nil, maxPixels: Int? = nil
    ) {
        self.maxLength = maxLength
        self.maxDocumentTokens = maxDocumentTokens
        self.truncationDirection = truncationDirection
        self.allowsTruncation = allowsTruncation
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }
}

extension PromptBuilder {
    /// This builder with a request's truncation choices: the lower of the two maximum lengths, the
    /// per-document token cap, the direction and whether cutting is allowed.
    public func applying(_ options: PairPreparationOptions) throws(PromptError) -> PromptBuilder {
        var builder = self
        if let maxLength = options.maxLength {
            guard maxLength > 0 else { throw .invalidMaxLength(maxLength) }
            builder.maxLength = min(maxLength, self.maxLength)
        }
        if let tokens = options.maxDocumentTokens {
            guard tokens > 0 else { throw .invalidMaxDocumentTokens(tokens) }
            builder.maxDocumentTokens = tokens
        }
        builder.truncationDirection = options.truncationDirection
        builder.allowsTruncation = options.allowsTruncation
        return builder
    }
}

extension Reranker {
    /// The image preprocessor for a request: the reranker's own, or one with the request's pixel bounds,
    /// which must lie within the reranker's.
    func imagePreprocessor(for options: PairPreparationOptions) throws -> ImagePreprocessor {
        guard options.minPixels != nil || options.maxPixels != nil else { return preprocessor }
        let bounds = preprocessor.minPixels...preprocessor.maxPixels
        let low = options.minPixels ?? preprocessor.minPixels
        let high = options.maxPixels ?? preprocessor.maxPixels
        for (name, value) in [("min_pixels", options.minPixels), ("max_pixels", options.maxPixels)] {
            if let value, !bounds.contains(value) {
                throw RerankerError.invalidOption(
                    "\(name) \(value) is outside this server's bounds \(bounds.lowerBound)...\(bounds.upperBound); "
                        + "ask for a value in that range (the server's --min-pixels/--max-pixels set it)")
            }
        }
        // A min_pixels above max_pixels is lowered to it: max_pixels always caps the cost.
        return ImagePreprocessor(minPixels: min(low, high), maxPixels: high)
    }

    /// A reranker sharing this one's model and tokenizer whose images are resized to between `minPixels`
    /// and `maxPixels` pixels (nil keeps the current bound): the `--min-pixels`/`--max-pixels` options.
    ///
    /// Fewer pixels mean fewer visual tokens: much faster image documents for a little accuracy.
    public func withImageBounds(minPixels: Int?, maxPixels: Int?) throws -> Reranker {
        let low = minPixels ?? preprocessor.minPixels
        let high = maxPixels ?? preprocessor.maxPixels
        let factor = ImagePreprocessor.patchSize * ImagePreprocessor.mergeSize
        guard low >= factor * factor, low <= high else {
            throw RerankerError.invalidOption(
                "image bounds \(low)...\(high) pixels are unusable: min pixels must be at least \(factor * factor) "
                    + "(one \(factor)x\(factor) tile) and at most max pixels")
        }
        return try Reranker(
            model: model, configuration: configuration, tokenizer: tokenizer,
            preprocessor: ImagePreprocessor(minPixels: low, maxPixels: high), options: options)
    }
}
