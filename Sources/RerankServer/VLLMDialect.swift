import Foundation
import Hummingbird
import Reranker

/// `POST /score` and `/v1/score` in vLLM's shape: `text_1` (queries) against `text_2` (documents).
///
/// One `text_1` item is scored against every `text_2` item; otherwise both lists have the same length
/// and item `i` of one is scored against item `i` of the other. Items are strings or vLLM content objects.
public struct ScoreRequest: Decodable, Sendable {
    public var model: String?
    public var text1: [ItemInput]
    public var text2: [ItemInput]
    /// What "relevant" means; the model's default instruction when absent.
    public var instruction: String?
    /// vLLM: per-request image size bounds.
    public var mmProcessorKwargs: MMProcessorKwargs?

    enum CodingKeys: String, CodingKey {
        case model, instruction
        case text1 = "text_1", text2 = "text_2", data1 = "data_1", data2 = "data_2"
        case mmProcessorKwargs = "mm_processor_kwargs"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        // Newer vLLM names the sides data_1 and data_2; a body gives one name per side.
        func side(_ name: CodingKeys, or alias: CodingKeys) throws -> [ItemInput] {
            guard !(c.contains(name) && c.contains(alias)) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: [alias], debugDescription: "give \(name.rawValue) or \(alias.rawValue), not both")
                )
            }
            return try c.decode(ItemList.self, forKey: c.contains(alias) ? alias : name).items
        }
        text1 = try side(.text1, or: .data1)
        text2 = try side(.text2, or: .data2)
        instruction = try c.decodeIfPresent(String.self, forKey: .instruction)
        mmProcessorKwargs = try c.decodeIfPresent(MMProcessorKwargs.self, forKey: .mmProcessorKwargs)
    }
}

/// vLLM's score answer: one entry per pair, in the pairs' order.
public struct ScoreResponse: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var index: Int
        public var object = "score"
        /// The probability `sigmoid(logit)`.
        public var score: Double
    }
    public var id: String
    public var object = "list"
    public var created: Int
    public var model: String
    public var data: [Entry]
    public var usage: Usage
}

/// `GET /v1/models` (OpenAI/vLLM shape): the one model this server runs.
struct ModelList: Encodable {
    struct Model: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "lychee-rerank"
        var root: String
        var maxModelLen: Int
        enum CodingKeys: String, CodingKey {
            case id, object, created, root
            case ownedBy = "owned_by"
            case maxModelLen = "max_model_len"
        }
    }
    var object = "list"
    var data: [Model]
}

extension RerankController {
    func score(_ request: Request, context: some RequestContext) async throws -> Response {
        let body: ScoreRequest = try await decode(request)
        guard !body.text1.isEmpty, !body.text2.isEmpty else {
            throw APIError.invalidRequest("\"text_1\" and \"text_2\" must each hold at least one item")
        }
        let options = try PairPreparationOptions(imageBounds: body.mmProcessorKwargs)
        let scored: (results: [RerankResult], totalTokens: Int)
        if body.text1.count == 1 {
            scored = try await rank(
                query: body.text1[0], documents: body.text2, instruction: body.instruction, topN: nil, options: options,
                context: context)
        } else {
            guard body.text1.count == body.text2.count else {
                throw APIError.invalidRequest(
                    "\"text_1\" has \(body.text1.count) items and \"text_2\" \(body.text2.count): give one text_1 "
                        + "item, or as many as text_2 items (scored pairwise)")
            }
            scored = try await scorePairwise(
                queries: body.text1, documents: body.text2, instruction: body.instruction, options: options)
        }
        return try json(
            ScoreResponse(
                id: "score-\(context.id)", created: Int(Date().timeIntervalSince1970), model: modelName,
                data: scored.results.sorted { $0.index < $1.index }.map { .init(index: $0.index, score: $0.score) },
                usage: Usage(tokens: scored.totalTokens)))
    }

    /// Scores `queries[i]` against `documents[i]` for every `i`, in one admission and one scheduling round.
    func scorePairwise(
        queries: [ItemInput], documents: [ItemInput], instruction: String?, options: PairPreparationOptions
    ) async throws -> (results: [RerankResult], totalTokens: Int) {
        // Within the request timeout, like every rerank route.
        let work: @Sendable () async throws -> RankedResults = { [self] in
            let scored = try await scorePairwiseWithinDeadline(
                queries: queries, documents: documents, instruction: instruction, options: options)
            return RankedResults(results: scored.results, totalTokens: scored.totalTokens)
        }
        let outcome = try await watched(
            timeoutSeconds: configuration.requestTimeoutSeconds, isClientConnected: nil, work)
        return (outcome.results, outcome.totalTokens)
    }

    private func scorePairwiseWithinDeadline(
        queries: [ItemInput], documents: [ItemInput], instruction: String?, options: PairPreparationOptions
    ) async throws -> (results: [RerankResult], totalTokens: Int) {
        guard await scheduler.isReady else { throw APIError.notReady }
        guard documents.count <= configuration.maxDocuments else {
            throw APIError.invalidRequest(
                "too many pairs: \(documents.count) given, this server takes at most \(configuration.maxDocuments) "
                    + "per request; split them over several requests")
        }
        return try await withAdmission {
            var pairs = [ScoringPair]()
            for (index, (query, document)) in zip(queries, documents).enumerated() {
                let queryItem = try await images.item(query, field: "text_1[\(index)]")
                let documentItem = try await images.item(document, field: "text_2[\(index)]", allowsEmpty: true)
                do {
                    pairs += try await scheduler.prepare(
                        query: queryItem, documents: [documentItem], instruction: instruction, options: options)
                } catch let error as RerankerError {
                    switch error {
                    case let .document(_, reason): throw APIError.invalidRequest("text_2[\(index)]: \(reason)")
                    case let .query(reason): throw APIError.invalidRequest("text_1[\(index)]: \(reason)")
                    default: throw APIError.invalidRequest(error.description)
                    }
                }
            }
            let results = try await scheduler.score(pairs).enumerated().map { position, result in
                var result = result
                result.index = position
                return result
            }
            return (results, results.reduce(0) { $0 + $1.tokens })
        }
    }

    var modelList: ModelList {
        ModelList(data: [
            .init(
                id: modelName, created: startedAt, root: modelName, maxModelLen: scheduler.engine.details.maxInputLength
            )
        ])
    }
}
