import Foundation
import Qwen25VL
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
    /// Images the vision tower embedded on this engine's device so far (`/metrics`).
    var imagesEmbedded: Int { get }
    /// The images being decoded for requests in flight, whose figures `/metrics` reports, if any.
    var imagePreparations: ImagePreparations? { get }
    /// The cached prefixes kept on this engine's device, whose figures `/metrics` reports, if any.
    var prefixCopies: DevicePrefixCopies? { get }

    /// What `GET /info` and `GET /v1/models` report about the engine.
    var details: EngineDetails { get }
    /// The device the engine runs on, for `/health` (e.g. "CUDA:0 NVIDIA H200").
    var deviceDescription: String { get }

    /// Prepares the pairs of one request (tokenizing, truncating, decoding and preprocessing images).
    /// - Parameter options: the request's truncation and image-size choices; the defaults change nothing.
    func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) throws -> [ScoringPair]
    /// Prepares the query side of a request once, for ``preparePairs(_:documents:)`` on parts of its
    /// documents (a request whose first documents' images go through the vision tower while the rest are
    /// prepared).
    func prepareQuery(_ query: RerankItem, instruction: String?, options: PairPreparationOptions) throws
        -> Reranker.PreparedQuery
    /// Prepares the pairs of `documents`, a slice of the request's documents (pair indices are positions in
    /// the whole request), with the request's prepared query.
    func preparePairs(_ query: Reranker.PreparedQuery, documents: ArraySlice<RerankItem>) throws -> [ScoringPair]
    /// Scores pairs in one pass; results in the pairs' order, each pair's own outcome (a pair whose score is
    /// not finite fails alone). Throws when the whole pass failed.
    func scorePairs(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>]
    /// Runs the vision tower now on those of `images` a pass would still have to embed, keeping their rows on
    /// the engine's device for the pass that scores them. Runs on the engine's thread, between passes.
    /// - Returns: how many images it embedded.
    func embedAhead(_ images: [PreparedImage]) throws -> Int
    /// Hands the images the engine's device embedded to the image cache (their copies to the host were started
    /// behind the vision tower; this waits for them). Runs on any thread once a pass's results are delivered, so
    /// that no answer waits for it; queues nothing on the device.
    /// - Returns: how many images went into the cache.
    func cacheEmbeddedImages() throws -> Int
}

extension RerankEngine {
    public var deviceDescription: String { details.backend }

    /// An engine that does not count its images reports none.
    public var imagesEmbedded: Int { 0 }

    /// An engine that does not share its images' decoding reports nothing.
    public var imagePreparations: ImagePreparations? { nil }

    /// An engine that keeps no prefixes on a device reports nothing.
    public var prefixCopies: DevicePrefixCopies? { nil }

    /// An engine without an image cache has nothing to hand over.
    public func cacheEmbeddedImages() throws -> Int { 0 }
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
    public var imagesEmbedded: Int { reranker.imagesEmbedded }
    public var imagePreparations: ImagePreparations? { reranker.imagePreparations }
    public var prefixCopies: DevicePrefixCopies? { reranker.prefixCopies }

    public var details: EngineDetails {
        EngineDetails(
            maxInputLength: reranker.options.maxLength,
            dtype: reranker.model.hasEightBitLinearWeights
                ? "float8_e4m3fn" : reranker.configuration.text.torchDtype ?? "bfloat16",
            backend: reranker.model.backend.name,
            minPixels: reranker.preprocessor.minPixels, maxPixels: reranker.preprocessor.maxPixels)
    }

    public func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) throws -> [ScoringPair] {
        try reranker.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
    }

    public func prepareQuery(_ query: RerankItem, instruction: String?, options: PairPreparationOptions) throws
        -> Reranker.PreparedQuery
    {
        try reranker.prepareQuery(query, instruction: instruction, options: options)
    }

    public func preparePairs(_ query: Reranker.PreparedQuery, documents: ArraySlice<RerankItem>) throws
        -> [ScoringPair]
    {
        try reranker.preparePairs(query, documents: documents)
    }

    public func scorePairs(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>] {
        try reranker.scorePairsSeparately(pairs)
    }

    public func embedAhead(_ images: [PreparedImage]) throws -> Int {
        try reranker.embedAhead(images)
    }

    public func cacheEmbeddedImages() throws -> Int {
        try reranker.cacheEmbeddedImages()
    }
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
