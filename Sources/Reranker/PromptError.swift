/// A prompt that cannot be built, with what to do about it.
public enum PromptError: Error, CustomStringConvertible, Equatable {
    /// The maximum length is not positive.
    case invalidMaxLength(Int)
    /// The tokenizer lacks a token the Lychee prompt needs.
    case missingSpecialToken(String)
    /// A user text contains a vision marker such as `<|image_pad|>`.
    case textContainsVisionMarker(field: String, marker: String)
    /// An image grid is unusable.
    case invalidImage(side: PromptImageBlock.Side, index: Int, reason: String)
    /// The instruction, query and fixed prompt parts alone exceed the maximum length.
    case queryTooLong(tokens: Int, maxLength: Int)
    /// The document's images (with everything before them) exceed the maximum length.
    case documentImagesTooLong(tokens: Int, maxLength: Int)
    /// The per-document token cap is not positive.
    case invalidMaxDocumentTokens(Int)
    /// The prompt is longer than the maximum length and the request forbids truncation.
    case documentTooLong(tokens: Int, maxLength: Int)
    /// The tokenizer did not turn each image placeholder into `<|vision_start|><|image_pad|><|vision_end|>`.
    case placeholderMismatch(expectedImages: Int, foundPads: Int)

    public var description: String {
        switch self {
        case let .invalidMaxLength(value):
            return "Maximum prompt length \(value) is not positive; use a positive token count (Lychee was trained "
                + "with \(LycheePromptFormat.maxLength))."
        case let .missingSpecialToken(token):
            return "The tokenizer has no token \(token); load the tokenizer.json of a Qwen2.5-VL checkpoint."
        case let .textContainsVisionMarker(field, marker):
            return "The \(field) text contains the reserved marker \(marker), which would be read as an image "
                + "token; remove it from the text and send images as images."
        case let .invalidImage(side, index, reason):
            return "\(side == .query ? "Query" : "Document") image \(index) is unusable: \(reason)"
        case let .queryTooLong(tokens, maxLength):
            return "The instruction and query take \(tokens) tokens with the fixed prompt parts, more than the "
                + "maximum length \(maxLength); shorten the query or instruction, use a smaller query image, or "
                + "raise the maximum length."
        case let .documentImagesTooLong(tokens, maxLength):
            return "The document's images need \(tokens) tokens with the query and fixed prompt parts, more than "
                + "the maximum length \(maxLength); images are never cut, so send smaller images (lower max_pixels) "
                + "or raise the maximum length."
        case let .invalidMaxDocumentTokens(value):
            return "The per-document token cap \(value) is not positive; give a positive number of tokens."
        case let .documentTooLong(tokens, maxLength):
            return "The prompt takes \(tokens) tokens, more than the maximum length \(maxLength), and this request "
                + "does not allow truncation; shorten the document or allow truncation (TEI: \"truncate\": true)."
        case let .placeholderMismatch(expected, found):
            return "The tokenizer produced \(found) image placeholder(s) for \(expected) image(s); it must parse "
                + "<|vision_start|>, <|image_pad|> and <|vision_end|> as single special tokens (use the "
                + "checkpoint's tokenizer.json)."
        }
    }
}
