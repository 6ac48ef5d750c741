import CPUBackend
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Reranker
import TestSupport
import Testing

@testable import RerankServer

/// The tiny fixture checkpoint, loaded once for every test in this target.
enum TinyModel {
    static let directory = Fixtures.url("checkpoints/tiny-untied-legacy")
    private static let loaded: Result<RerankerEngine, any Error> = Result {
        let reranker = try Reranker.load(
            modelDirectory: directory, backend: CPUBackend(), options: RerankerOptions(tokenBudget: 512))
        return RerankerEngine(reranker: reranker, modelName: "tiny-untied-legacy")
    }

    static func engine() throws -> RerankerEngine { try loaded.get() }
}

/// An engine that counts its calls and the pairs in each, around the real one.
final class CountingEngine: RerankEngine, @unchecked Sendable {
    let inner: RerankerEngine
    private let lock = NSLock()
    private var _batches = [Int]()
    private var _batchTokens = [Int]()

    /// How long each pass takes at least (to keep the engine busy in a test).
    let passDelay: Duration
    /// Runs before each hand-over to the image cache (a test may hold it there).
    let beforeHandOver: @Sendable () -> Void

    init(_ inner: RerankerEngine, passDelay: Duration = .zero, beforeHandOver: @escaping @Sendable () -> Void = {}) {
        self.inner = inner
        self.passDelay = passDelay
        self.beforeHandOver = beforeHandOver
    }

    var batches: [Int] { lock.withLock { _batches } }
    /// Each call's cost in the token budget (shared prefixes counted once).
    var batchTokens: [Int] { lock.withLock { _batchTokens } }
    var modelName: String { inner.modelName }
    var imageCache: ImageEmbeddingCache? { inner.imageCache }
    var prefixCache: PrefixCache? { inner.prefixCache }
    var imagesEmbedded: Int { inner.imagesEmbedded }

    var details: EngineDetails { inner.details }
    func preparePairs(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) throws -> [ScoringPair] {
        try inner.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
    }
    func prepareQuery(_ query: RerankItem, instruction: String?, options: PairPreparationOptions) throws
        -> Reranker.PreparedQuery
    {
        try inner.prepareQuery(query, instruction: instruction, options: options)
    }
    func preparePairs(_ query: Reranker.PreparedQuery, documents: ArraySlice<RerankItem>) throws -> [ScoringPair] {
        try inner.preparePairs(query, documents: documents)
    }
    /// Images embedded ahead of their pass, call by call.
    var embeddedAhead: [Int] { lock.withLock { _embeddedAhead } }
    private var _embeddedAhead = [Int]()
    func embedAhead(_ images: [PreparedImage]) throws -> Int {
        let embedded = try inner.embedAhead(images)
        lock.withLock { _embeddedAhead.append(embedded) }
        return embedded
    }
    func cacheEmbeddedImages() throws -> Int {
        beforeHandOver()
        return try inner.cacheEmbeddedImages()
    }
    func scorePairs(_ pairs: [ScoringPair]) throws -> [Result<RerankResult, RerankerError>] {
        var cost = BatchCost()
        for pair in pairs { cost.add(pair) }
        lock.withLock {
            _batches.append(pairs.count)
            _batchTokens.append(cost.tokens)
        }
        if passDelay > .zero { Thread.sleep(forTimeInterval: Double(passDelay.components.attoseconds) / 1e18) }
        return try inner.scorePairs(pairs)
    }
}

/// Runs `test` against an application over `engine` with HummingbirdTesting's router client.
func withServer<Engine: RerankEngine, Value: Sendable>(
    engine: Engine, configuration: ServerConfiguration = ServerConfiguration(),
    warmUp: (@Sendable (Engine) throws -> Void)? = nil,
    _ test: @Sendable (any TestClientProtocol, RerankServerParts<Engine>) async throws -> Value
) async throws -> Value {
    var configuration = configuration
    configuration.tokenBudget = 512
    let (application, parts) = try buildApplication(engine: engine, configuration: configuration, warmUp: warmUp)
    return try await application.test(.router) { client in
        // The scheduler turns ready once its service has started.
        for _ in 0..<500 where !(await parts.scheduler.isReady) { try await Task.sleep(for: .milliseconds(5)) }
        return try await test(client, parts)
    }
}

/// The same over the real tiny model.
func withServer<Value: Sendable>(
    configuration: ServerConfiguration = ServerConfiguration(),
    _ test: @Sendable (any TestClientProtocol, RerankServerParts<RerankerEngine>) async throws -> Value
) async throws -> Value {
    try await withServer(engine: try TinyModel.engine(), configuration: configuration, test)
}

/// A JSON body from a JSON-compatible value.
func body(_ object: Any) throws -> ByteBuffer {
    ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: object))
}

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestResponse {
    /// The body decoded as `T`.
    func decoded<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The `{"error": {...}}` body of an error answer.
    func apiError() throws -> ErrorBody.Detail { try decoded(ErrorBody.self).error }

    var text: String { String(buffer: body) }
}

/// Base64 of a fixture image.
func fixtureImageBase64(_ name: String) throws -> String {
    try Data(contentsOf: Fixtures.url("checkpoints/images/\(name)")).base64EncodedString()
}
