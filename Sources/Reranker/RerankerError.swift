/// Why a rerank request or a model load failed, with what to do about it.
public enum RerankerError: Error, CustomStringConvertible {
    /// The model directory lacks a file the engine needs.
    case missingFile(path: String, hint: String)
    /// The tokenizer lacks a token the prompt or the score needs.
    case missingToken(String)
    /// The request has no documents.
    case noDocuments
    /// Document `index` could not be used; `reason` says why.
    case document(index: Int, reason: String)
    /// The query could not be used; `reason` says why.
    case query(reason: String)
    /// The token budget is smaller than one prompt.
    case invalidOption(String)
    /// The model's score of document `index` is not a finite number (a broken checkpoint: NaN or infinite
    /// weights, or activations that overflow).
    case nonFiniteScore(index: Int)
    /// The request's images together decode to more pixels than one request may use.
    case tooManyPixels(limit: Int)

    public var description: String {
        switch self {
        case let .missingFile(path, hint):
            return "model directory is missing \(path): \(hint)"
        case let .missingToken(token):
            return "the tokenizer has no token \(token); the model directory's tokenizer.json does not belong to a "
                + "Qwen2.5-VL model"
        case .noDocuments:
            return "no documents to rank: give at least one document"
        case let .document(index, reason):
            return "document \(index): \(reason)"
        case let .query(reason):
            return "query: \(reason)"
        case let .invalidOption(message):
            return message
        case let .tooManyPixels(limit):
            return "the request's images decode to more than \(limit) pixels in total (the per-request limit): "
                + "send smaller images, or fewer images per request"
        case let .nonFiniteScore(index):
            return "the model's score of document \(index) is not a finite number: the checkpoint is broken "
                + "(NaN or infinite weights); check it with `lychee-rerank inspect --model DIR`"
        }
    }
}
