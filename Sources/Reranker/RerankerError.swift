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
    /// The request's images together decode to more pixels than one request may use.
    case tooManyPixels(limit: Int)
    /// A model file exists but cannot be read (permission denied, not a regular file).
    case unreadableFile(path: String, reason: String)
    /// The model folder's files load but cannot work together (`lychee-rerank inspect` lists the same).
    case unusableModel(directory: String, problems: [String])
    /// The model gave a score that is not a number (NaN or infinite weights or activations).
    case nonFiniteScore(index: Int, logit: Double)

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
        case let .unreadableFile(path, reason):
            return "cannot read \(path): \(reason)"
        case let .unusableModel(directory, problems):
            return "the model in \(directory) cannot be used:\n" + problems.map { "  - " + $0 }.joined(separator: "\n")
                + "\n(`lychee-rerank inspect --model \(directory)` lists every problem)"
        case let .nonFiniteScore(index, logit):
            return "document \(index) got the score \(logit) (not a number): the model's weights or this input make "
                + "NaN or infinite values; check the model with `lychee-rerank inspect`"
        }
    }
}
