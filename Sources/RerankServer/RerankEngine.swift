import Foundation
import Reranker

/// What the server needs from a reranking engine: prepare one request's pairs, then score batches of
/// prepared pairs that may come from different requests.
///
/// Both calls are synchronous and may take long; the server runs them on its own threads, never on the
/// event loops or the Swift concurrency pool.
public protocol RerankEngine: Sendable {
    /// A query–document pair ready to score.
    associatedtype Pair: Sendable

    /// The model's name, reported in responses.
    var modelName: String { get }
    /// Most decoder tokens the scheduler packs into one ``scorePairs(_:)`` call.
    var tokenBudget: Int { get }

    /// Prepares the pairs of one request (tokenizing, truncating, preprocessing and embedding images).
    /// - Parameter maxLength: a per-request cap on prompt tokens; nil keeps the engine's own.
    func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, maxLength: Int?
    ) throws -> [Pair]
    /// The pair's cost in the token budget.
    func tokenCount(of pair: Pair) -> Int
    /// Scores pairs in one engine call; results are in the pairs' order.
    func scorePairs(_ pairs: [Pair]) throws -> [RerankResult]
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

    public var tokenBudget: Int { reranker.options.tokenBudget }

    public func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, maxLength: Int?
    ) throws -> [ScoringPair] {
        try reranker.preparePairs(query: query, documents: documents, instruction: instruction, maxLength: maxLength)
    }

    public func tokenCount(of pair: ScoringPair) -> Int { pair.tokenCount }

    public func scorePairs(_ pairs: [ScoringPair]) throws -> [RerankResult] { try reranker.scorePairs(pairs) }
}
