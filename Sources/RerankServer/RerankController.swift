import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Reranker

/// The API routes: health, readiness, the rerank dialects (Jina, Cohere v1/v2, vLLM, TEI), vLLM's
/// score, model and TEI info routes, and metrics.
public struct RerankController<Engine: RerankEngine>: Sendable {
    let scheduler: PairScheduler<Engine>
    let gate: AdmissionGate
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let images: ImageInputResolver
    /// When the server was built, in Unix seconds (`created` of `GET /v1/models`).
    let startedAt = Int(Date().timeIntervalSince1970)

    /// The open connections, and which clients have gone away.
    let connections: ConnectionRegistry

    init(
        scheduler: PairScheduler<Engine>, configuration: ServerConfiguration, metrics: ServerMetrics,
        connections: ConnectionRegistry = ConnectionRegistry()
    ) {
        self.scheduler = scheduler
        self.connections = connections
        self.configuration = configuration
        self.metrics = metrics
        self.gate = AdmissionGate(
            maxConcurrent: configuration.maxConcurrent, maxWaiting: configuration.maxWaiting, metrics: metrics)
        self.images = ImageInputResolver(fetcher: configuration.imageFetcher)
    }

    var modelName: String { configuration.modelName ?? scheduler.engine.modelName }

    func addRoutes(to router: Router<ServerRequestContext>) {
        router.get("/health") { _, _ in try json(HealthBody(status: "ok", engines: await scheduler.engineStates)) }
        router.get("/ready") { _, _ in
            guard await scheduler.isReady else { throw APIError.notReady }
            return try json(["status": "ready", "model": modelName])
        }
        router.post("/rerank") { request, context in try await rerankV1OrTEI(request, context: context) }
        router.post("/v1/rerank") { request, context in try await rerankV1(request, context: context) }
        router.post("/v2/rerank") { request, context in try await rerankV2(request, context: context) }
        router.post("/score") { request, context in try await score(request, context: context) }
        router.post("/v1/score") { request, context in try await score(request, context: context) }
        router.get("/info") { _, _ in try json(teiInfo) }
        router.get("/v1/models") { _, _ in try json(modelList) }
        router.get("/metrics") { _, _ in
            if let cache = scheduler.engine.imageCache { metrics.record(imageCache: cache.snapshot()) }
            if let cache = scheduler.engine.prefixCache { metrics.record(prefixCache: cache.snapshot()) }
            metrics.imagesEmbedded.record(scheduler.imagesEmbedded)
            metrics.record(prefixCopies: scheduler.prefixCopies)
            if let images = scheduler.engine.imagePreparations { metrics.record(imagePreparations: images.snapshot()) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
    }

    // MARK: Handlers

    /// `POST /rerank`: TEI's shape when the body has `texts` and no `documents`, else the Jina/Cohere one.
    func rerankV1OrTEI(_ request: Request, context: some RequestContext) async throws -> Response {
        switch try await decode(request) as RerankOrTEIRequest {
        case .tei(let body): return try await rerankTEI(body, context: context)
        case .v1(let body): return try await rerankV1(body, context: context)
        }
    }

    func rerankV1(_ request: Request, context: some RequestContext) async throws -> Response {
        try await rerankV1(try await decode(request), context: context)
    }

    func rerankV1(_ body: RerankRequest, context: some RequestContext) async throws -> Response {
        let ranked = try await rank(body, context: context)
        let echo = body.returnDocuments ?? false
        return try json(
            RerankResponseV1(
                id: context.id, model: modelName,
                results: ranked.results.map {
                    RerankResultV1(
                        index: $0.index, relevanceScore: $0.score, logit: $0.logit, tokens: $0.tokens,
                        truncated: $0.truncated, document: echo ? body.documents[$0.index].echoed : nil)
                },
                usage: Usage(tokens: ranked.totalTokens)))
    }

    func rerankV2(_ request: Request, context: some RequestContext) async throws -> Response {
        let body: RerankRequest = try await decode(request)
        let ranked = try await rank(body, context: context)
        let echo = body.returnDocuments ?? false
        return try json(
            RerankResponseV2(
                id: context.id, model: modelName,
                results: ranked.results.map {
                    .init(
                        index: $0.index, relevanceScore: $0.score,
                        document: echo ? body.documents[$0.index].echoed : nil)
                },
                meta: .init(
                    apiVersion: .init(version: "2"), billedUnits: .init(searchUnits: 1),
                    tokens: .init(inputTokens: ranked.totalTokens)),
                usage: Usage(tokens: ranked.totalTokens)))
    }

    /// Ranks a Jina/Cohere/vLLM request: its options checked, `rank_fields` applied.
    func rank(_ body: RerankRequest, context: (any RequestContext)?) async throws -> (
        results: [RerankResult], totalTokens: Int
    ) {
        if let maxTokensPerDoc = body.maxTokensPerDoc, !(1...APIBounds.largestInteger).contains(maxTokensPerDoc) {
            throw APIError.invalidRequest(
                "\"max_tokens_per_doc\" must be at least 1 and at most \(APIBounds.largestInteger), "
                    + "got \(maxTokensPerDoc)"
            )
        }
        var options = try PairPreparationOptions(imageBounds: body.mmProcessorKwargs)
        options.maxDocumentTokens = body.maxTokensPerDoc
        var documents = body.documents
        if let fields = body.rankFields {
            guard !fields.isEmpty else {
                throw APIError.invalidRequest(
                    "\"rank_fields\" is empty: name the document fields to rank on, or leave it out")
            }
            documents = documents.map { ItemInput(text: $0.rankText(fields: fields), image: $0.image) }
        }
        return try await rank(
            query: body.query, documents: documents, instruction: body.instruction, topN: body.topN, options: options,
            context: context)
    }

    // MARK: Ranking

    /// Checks limits, waits for a turn, prepares the pairs off the event loops, scores them through the
    /// scheduler and sorts them, most relevant first; all within the request timeout, and dropped as soon as
    /// the client disconnects.
    func rank(
        query: ItemInput, documents: [ItemInput], instruction: String?, topN: Int?, options: PairPreparationOptions,
        context: (any RequestContext)?
    ) async throws -> (results: [RerankResult], totalTokens: Int) {
        guard await scheduler.isReady else { throw APIError.notReady }
        guard !documents.isEmpty else {
            throw APIError.invalidRequest("\"documents\" is empty: give at least one document to rank")
        }
        // The engine accepts an empty query (a bare `<Query>:` prefix); an API caller sending one almost
        // certainly made a mistake, so the server asks for one.
        guard !(query.text ?? "").isEmpty || !(query.image ?? "").isEmpty else {
            throw APIError.invalidRequest("the query is empty: give query text, a query image, or both")
        }
        guard documents.count <= configuration.maxDocuments else {
            throw APIError.invalidRequest(
                "too many documents: \(documents.count) given, this server takes at most "
                    + "\(configuration.maxDocuments) per request; split them over several requests")
        }
        if let topN, !(1...APIBounds.largestInteger).contains(topN) {
            throw APIError.invalidRequest(
                "\"top_n\" must be at least 1 and at most \(APIBounds.largestInteger), got \(topN)")
        }
        // A connection that is not live at the start (the in-memory test transport) cannot be watched.
        var isClientConnected: (@Sendable () -> Bool)?
        if let channel = (context as? ServerRequestContext)?.channel, channel.isActive {
            let connections = self.connections
            isClientConnected = { @Sendable in connections.isClientConnected(channel) }
        }
        let work: @Sendable () async throws -> RankedResults = { [self] in
            try await admitted(
                query: query, documents: documents, instruction: instruction, topN: topN, options: options)
        }
        do {
            let outcome = try await watched(
                timeoutSeconds: configuration.requestTimeoutSeconds, isClientConnected: isClientConnected, work)
            return (outcome.results, outcome.totalTokens)
        } catch ServerError.timedOut(let seconds) {
            metrics.requestsTimedOut.increment()
            throw ServerError.timedOut(seconds: seconds)
        } catch ServerError.cancelled {
            metrics.requestsCancelled.increment()
            throw ServerError.cancelled
        }
    }

    /// Results, most relevant first, and the prompt tokens they took.
    struct RankedResults: Sendable {
        var results: [RerankResult]
        var totalTokens: Int
    }

    /// Waits for a turn at the gate, then ranks.
    private func admitted(
        query: ItemInput, documents: [ItemInput], instruction: String?, topN: Int?, options: PairPreparationOptions
    ) async throws -> RankedResults {
        try await withAdmission {
            try Task.checkCancellation()
            return try await rankAdmitted(
                query: query, documents: documents, instruction: instruction, topN: topN, options: options)
        }
    }

    /// Runs `body` within a turn at the admission gate (refused at once, 429, when the line is full).
    func withAdmission<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        guard await gate.enter() else {
            throw APIError.rateLimited(
                retryAfter: configuration.retryAfterSeconds,
                message: "the server is at capacity (\(configuration.maxConcurrent) requests running, "
                    + "\(configuration.maxWaiting) waiting); retry after \(configuration.retryAfterSeconds) s")
        }
        do {
            let value = try await body()
            await gate.leave()
            return value
        } catch {
            await gate.leave()
            throw error
        }
    }

    private func rankAdmitted(
        query: ItemInput, documents: [ItemInput], instruction: String?, topN: Int?, options: PairPreparationOptions
    ) async throws -> RankedResults {
        let (queryItem, documentItems) = try await metrics.timing(.inputs) {
            let queryItem = try await images.item(query, field: "query")
            var documentItems = [RerankItem]()
            documentItems.reserveCapacity(documents.count)
            for (index, document) in documents.enumerated() {
                documentItems.append(try await images.item(document, field: "documents[\(index)]", allowsEmpty: true))
            }
            return (queryItem, documentItems)
        }
        let pairs: [ScoringPair]
        do {
            pairs = try await metrics.timing(.prepare) {
                try await scheduler.prepare(
                    query: queryItem, documents: documentItems, instruction: instruction, options: options)
            }
        } catch let error as RerankerError {
            throw APIError.invalidRequest(Self.describe(error))
        }
        try Task.checkCancellation()
        // The scheduler owns the pairs from here: their pixels are freed as soon as their pass is scored.
        let start = ContinuousClock.now
        let results = try await scheduler.score(consume pairs)
        metrics.recordStage(.score, ContinuousClock.now - start)
        let total = results.reduce(0) { $0 + $1.tokens }
        return RankedResults(results: ranked(results, topN: topN), totalTokens: total)
    }

    /// A reranker error in the API's words (`documents[2]` rather than `document 2`).
    static func describe(_ error: RerankerError) -> String {
        switch error {
        case let .document(index, reason): return "documents[\(index)]: \(reason)"
        default: return error.description
        }
    }

    // MARK: JSON

    func decode<T: Decodable>(_ request: Request) async throws -> T {
        try await metrics.timing(.decode) { try JSONDecoder().decode(T.self, from: try await bodyData(request)) }
    }

    /// The request body, refused when empty or over the size limit.
    func bodyData(_ request: Request) async throws -> Data {
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            throw APIError.invalidRequest(
                "the request body is empty: send a JSON object (Content-Type: application/json)")
        }
        let body = Data(buffer.readableBytesView)
        try RequestBodyCheck.requireUTF8(body)
        return body
    }
}

/// `GET /health`: the process answers, and how each engine (one per GPU) is doing.
struct HealthBody: Codable, Sendable {
    var status: String
    var engines: [EngineState]
}

/// A JSON answer.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    return Response(
        status: status, headers: [.contentType: "application/json; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Bounds the OpenAPI document states for integer fields.
enum APIBounds {
    /// The largest integer any count field takes (2^31 - 1).
    static let largestInteger = Int(Int32.max)
}

/// A `POST /rerank` body: TEI's shape when the object has `texts` and no `documents`, else the Jina/Cohere one.
/// Told apart by the top-level names and decoded from the same parse (bodies with images run to megabytes).
enum RerankOrTEIRequest: Decodable {
    case tei(TEIRerankRequest)
    case v1(RerankRequest)

    init(from decoder: any Decoder) throws {
        let names = Set(try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue))
        self =
            names.contains("texts") && !names.contains("documents")
            ? .tei(try TEIRerankRequest(from: decoder)) : .v1(try RerankRequest(from: decoder))
    }
}

extension PairPreparationOptions {
    /// Options carrying a request's vLLM image bounds (`mm_processor_kwargs`), checked to be positive.
    init(imageBounds: MMProcessorKwargs?) throws {
        self.init(minPixels: imageBounds?.minPixels, maxPixels: imageBounds?.maxPixels)
        for (name, value) in [("min_pixels", minPixels), ("max_pixels", maxPixels)] {
            if let value, value < 1 {
                throw APIError.invalidRequest("\"mm_processor_kwargs.\(name)\" must be at least 1, got \(value)")
            }
        }
    }
}
