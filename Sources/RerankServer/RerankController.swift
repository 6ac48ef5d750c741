import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Reranker

/// The API routes: health, readiness, the three rerank shapes and metrics.
public struct RerankController<Engine: RerankEngine>: Sendable {
    let scheduler: PairScheduler<Engine>
    let gate: AdmissionGate
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let images: ImageInputResolver

    init(scheduler: PairScheduler<Engine>, configuration: ServerConfiguration, metrics: ServerMetrics) {
        self.scheduler = scheduler
        self.configuration = configuration
        self.metrics = metrics
        self.gate = AdmissionGate(
            maxConcurrent: configuration.maxConcurrent, maxWaiting: configuration.maxWaiting, metrics: metrics)
        self.images = ImageInputResolver(fetcher: configuration.imageFetcher)
    }

    var modelName: String { configuration.modelName ?? scheduler.engine.modelName }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/health") { _, _ in try json(["status": "ok"]) }
        router.get("/ready") { _, _ in
            guard await scheduler.isReady else { throw APIError.notReady }
            return try json(["status": "ready", "model": modelName])
        }
        router.post("/rerank") { request, context in try await rerankV1(request, context: context) }
        router.post("/v1/rerank") { request, context in try await rerankV1(request, context: context) }
        router.post("/v2/rerank") { request, context in try await rerankV2(request, context: context) }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
    }

    // MARK: Handlers

    func rerankV1(_ request: Request, context: some RequestContext) async throws -> Response {
        let body: RerankRequestV1 = try await decode(request)
        let ranked = try await rank(
            query: body.query, documents: body.documents, instruction: body.instruction, topN: body.topN,
            maxTokensPerDoc: body.maxTokensPerDoc)
        let echo = body.returnDocuments ?? false
        return try json(
            RerankResponseV1(
                model: modelName,
                results: ranked.results.map {
                    RerankResultV1(
                        index: $0.index, relevanceScore: $0.score, logit: $0.logit, tokens: $0.tokens,
                        truncated: $0.truncated, document: echo ? body.documents[$0.index] : nil)
                },
                usage: .init(totalTokens: ranked.totalTokens)))
    }

    func rerankV2(_ request: Request, context: some RequestContext) async throws -> Response {
        let body: RerankRequestV2 = try await decode(request)
        let ranked = try await rank(
            query: body.query, documents: body.documents, instruction: body.instruction, topN: body.topN,
            maxTokensPerDoc: body.maxTokensPerDoc)
        let echo = body.returnDocuments ?? false
        return try json(
            RerankResponseV2(
                id: context.id,
                results: ranked.results.map {
                    .init(index: $0.index, relevanceScore: $0.score, document: echo ? body.documents[$0.index] : nil)
                },
                meta: .init(
                    apiVersion: .init(version: "2"), billedUnits: .init(searchUnits: 1),
                    tokens: .init(inputTokens: ranked.totalTokens))))
    }

    // MARK: Ranking

    /// Checks limits, waits for a turn, prepares the pairs off the event loops, scores them through the
    /// scheduler and sorts them, most relevant first.
    func rank(
        query: ItemInput, documents: [ItemInput], instruction: String?, topN: Int?, maxTokensPerDoc: Int?
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
        if let topN, topN < 1 { throw APIError.invalidRequest("\"top_n\" must be at least 1, got \(topN)") }
        if let maxTokensPerDoc, maxTokensPerDoc < 1 {
            throw APIError.invalidRequest("\"max_tokens_per_doc\" must be at least 1, got \(maxTokensPerDoc)")
        }
        guard await gate.enter() else {
            throw APIError.rateLimited(
                retryAfter: configuration.retryAfterSeconds,
                message: "the server is at capacity (\(configuration.maxConcurrent) requests running, "
                    + "\(configuration.maxWaiting) waiting); retry after \(configuration.retryAfterSeconds) s")
        }
        do {
            let ranked = try await rankAdmitted(
                query: query, documents: documents, instruction: instruction, topN: topN,
                maxTokensPerDoc: maxTokensPerDoc)
            await gate.leave()
            return ranked
        } catch {
            await gate.leave()
            throw error
        }
    }

    private func rankAdmitted(
        query: ItemInput, documents: [ItemInput], instruction: String?, topN: Int?, maxTokensPerDoc: Int?
    ) async throws -> (results: [RerankResult], totalTokens: Int) {
        let queryItem = try await images.item(query, field: "query")
        var documentItems = [RerankItem]()
        documentItems.reserveCapacity(documents.count)
        for (index, document) in documents.enumerated() {
            documentItems.append(try await images.item(document, field: "documents[\(index)]"))
        }
        let pairs: [Engine.Pair]
        do {
            pairs = try await scheduler.prepare(
                query: queryItem, documents: documentItems, instruction: instruction, maxLength: maxTokensPerDoc)
        } catch let error as RerankerError {
            throw APIError.invalidRequest(Self.describe(error))
        }
        let results = try await scheduler.score(pairs)
        let sorted = results.sorted { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        let total = results.reduce(0) { $0 + $1.tokens }
        return (topN.map { Array(sorted.prefix($0)) } ?? sorted, total)
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
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            throw APIError.invalidRequest("the request body is empty: send a JSON object (Content-Type: application/json)")
        }
        let bytes = Array(buffer.readableBytesView)
        try RequestBodyCheck.requireUTF8(bytes)
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }
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
