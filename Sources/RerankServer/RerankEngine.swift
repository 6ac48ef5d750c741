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

    /// What `GET /info` and `GET /v1/models` report about the engine.
    var details: EngineDetails { get }

    /// Prepares the pairs of one request (tokenizing, truncating, preprocessing and embedding images).
    /// - Parameter options: the request's truncation and image-size choices; the defaults change nothing.
    func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
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

    public var details: EngineDetails {
        EngineDetails(
            maxInputLength: reranker.options.maxLength,
            dtype: reranker.configuration.text.torchDtype ?? "bfloat16", backend: reranker.model.backend.name,
            minPixels: reranker.preprocessor.minPixels, maxPixels: reranker.preprocessor.maxPixels)
    }

    public func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) throws -> [ScoringPair] {
        try reranker.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
    }

    public func tokenCount(of pair: ScoringPair) -> Int { pair.tokenCount }

    public func scorePairs(_ pairs: [ScoringPair]) throws -> [RerankResult] { try reranker.scorePairs(pairs) }
}

/// Facts about an engine that clients may ask for (`GET /info`, `GET /v1/models`).
public struct EngineDetails: Sendable, Equatable {
    /// Longest prompt in tokens; longer document texts are cut.
    public var maxInputLength: Int
    /// The weights' data type as the checkpoint names it (`bfloat16`).
    public var dtype: String
    /// Where the model runs (`CPU`, `CUDA`).
    public var backend: String
    /// Image area bounds in pixels after resizing (requests may narrow them).
    public var minPixels: Int
    public var maxPixels: Int

    public init(maxInputLength: Int, dtype: String, backend: String, minPixels: Int, maxPixels: Int) {
        self.maxInputLength = maxInputLength
        self.dtype = dtype
        self.backend = backend
        self.minPixels = minPixels
        self.maxPixels = maxPixels
    }
}
