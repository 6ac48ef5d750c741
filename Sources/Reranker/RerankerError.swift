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
        }
    }
}
