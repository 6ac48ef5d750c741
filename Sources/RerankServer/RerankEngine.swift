import Foundation
import Reranker

/// What the server needs from a reranking engine: prepare one request's pairs on the host, then score
/// passes of prepared pairs that may come from different requests.
///
/// Both calls are synchronous and may take long; the server runs them on its own threads, never on the
/// event loops or the Swift concurrency pool.
public protocol RerankEngine: Sendable {
    /// The model's name, reported in responses.
    var modelName: String { get }
    /// The image cache whose figures `/metrics` reports, if any.
    var imageCache: ImageEmbeddingCache? { get }
    /// The prompt prefix cache whose figures `/metrics` reports, if any.
    var prefixCache: PrefixCache? { get }

    /// Prepares the pairs of one request (tokenizing, truncating, decoding and preprocessing images).
    /// - Parameter maxLength: a per-request cap on prompt tokens; nil keeps the engine's own.
    func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, maxLength: Int?
    ) throws -> [ScoringPair]
    /// Scores pairs in one pass; results in the pairs' order, each pair's own outcome (a pair whose score is
    /// not finite fails alone). Throws when the whole pass failed.
    func scorePairs(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>]
}

/// The real engine: a loaded ``Reranker``.
public struct RerankerEngine: RerankEngine {
    /// The loaded model.
    public let reranker: Reranker
    public let modelName: String

    /// Wraps `reranker`, reporting `modelName` in responses.
    public init(reranker: Reranker, modelName: String) {
        self.reranker = reranker
        self.modelName = modelName
    }

    public var imageCache: ImageEmbeddingCache? { reranker.imageCache }
    public var prefixCache: PrefixCache? { reranker.prefixCache }

    public func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, maxLength: Int?
    ) throws -> [ScoringPair] {
        try reranker.preparePairs(query: query, documents: documents, instruction: instruction, maxLength: maxLength)
    }

    public func scorePairs(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>] {
        try reranker.scorePairsSeparately(pairs)
    }
}
