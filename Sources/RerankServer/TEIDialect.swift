import Foundation
import Hummingbird
import Reranker

/// `POST /rerank` in Hugging Face text-embeddings-inference's shape: `texts` instead of `documents`.
public struct TEIRerankRequest: Decodable, Sendable {
    public var query: ItemInput
    public var texts: [ItemInput]
    /// Give the logit as `score` instead of the probability.
    public var rawScores: Bool?
    /// Echo each text as `text`.
    public var returnText: Bool?
    /// Cut documents longer than the server's maximum length (true or absent) or refuse them (false).
    /// Only document text is ever cut, never the query.
    public var truncate: Bool?
    /// Which end of a document text is cut: `Right` (default) or `Left`, any case.
    public var truncationDirection: TruncationDirection?
    /// Not TEI's, but sent by some TEI clients: keep only the best `top_n`.
    public var topN: Int?
    /// What "relevant" means; the model's default instruction when absent.
    public var instruction: String?

    enum CodingKeys: String, CodingKey {
        case query, texts, truncate, instruction
        case rawScores = "raw_scores"
        case returnText = "return_text"
        case truncationDirection = "truncation_direction"
        case topN = "top_n"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        query = try c.decode(ItemInput.self, forKey: .query)
        texts = try c.decode([ItemInput].self, forKey: .texts)
        rawScores = try c.decodeIfPresent(Bool.self, forKey: .rawScores)
        returnText = try c.decodeIfPresent(Bool.self, forKey: .returnText)
        truncate = try c.decodeIfPresent(Bool.self, forKey: .truncate)
        topN = try c.decodeIfPresent(Int.self, forKey: .topN)
        instruction = try c.decodeIfPresent(String.self, forKey: .instruction)
        if let direction = try c.decodeIfPresent(String.self, forKey: .truncationDirection) {
            guard let value = TruncationDirection(rawValue: direction.lowercased()) else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: [CodingKeys.truncationDirection],
                        debugDescription: "\"\(direction)\" is not a direction; use \"Right\" or \"Left\""))
            }
            truncationDirection = value
        }
    }
}

/// One element of TEI's answer, a bare list sorted by score.
public struct TEIRank: Codable, Sendable, Equatable {
    public var index: Int
    /// The probability, or the logit when `raw_scores` was true.
    public var score: Double
    public var text: String?
}

/// `GET /info`, in TEI's shape (plus `backend`).
struct TEIInfo: Encodable {
    struct ModelType: Encodable {
        struct Classifier: Encodable {
            var id2label = ["0": "LABEL_0"]
            var label2id = ["LABEL_0": 0]
        }
        var reranker = Classifier()
    }
    var modelID: String
    var modelSHA: String?
    var modelDtype: String
    var modelType = ModelType()
    var maxConcurrentRequests: Int
    var maxInputLength: Int
    var maxBatchTokens: Int
    var maxClientBatchSize: Int
    var autoTruncate = true
    var tokenizationWorkers = 1
    var version: String
    var backend: String

    enum CodingKeys: String, CodingKey {
        case version, backend
        case modelID = "model_id"
        case modelSHA = "model_sha"
        case modelDtype = "model_dtype"
        case modelType = "model_type"
        case maxConcurrentRequests = "max_concurrent_requests"
        case maxInputLength = "max_input_length"
        case maxBatchTokens = "max_batch_tokens"
        case maxClientBatchSize = "max_client_batch_size"
        case autoTruncate = "auto_truncate"
        case tokenizationWorkers = "tokenization_workers"
    }
}

/// This package's version, reported by `GET /info` and `--version`.
public let lycheeRerankVersion = "0.1.0"

extension RerankController {
    func rerankTEI(_ body: TEIRerankRequest, context: (any RequestContext)?) async throws -> Response {
        guard !body.texts.isEmpty else {
            throw APIError.invalidRequest("\"texts\" is empty: give at least one text to rank")
        }
        let options = PairPreparationOptions(
            truncationDirection: body.truncationDirection ?? .right, allowsTruncation: body.truncate ?? true)
        let ranked = try await rank(
            query: body.query, documents: body.texts, instruction: body.instruction, topN: body.topN, options: options,
            context: context)
        let raw = body.rawScores ?? false
        let echo = body.returnText ?? false
        return try json(
            ranked.results.map {
                TEIRank(
                    index: $0.index, score: raw ? $0.logit : $0.score,
                    text: echo ? body.texts[$0.index].text ?? "" : nil)
            })
    }

    var teiInfo: TEIInfo {
        let details = scheduler.engine.details
        return TEIInfo(
            modelID: modelName, modelDtype: details.dtype, maxConcurrentRequests: configuration.maxConcurrent,
            maxInputLength: details.maxInputLength, maxBatchTokens: scheduler.tokenBudget,
            maxClientBatchSize: configuration.maxDocuments, version: lycheeRerankVersion, backend: details.backend)
    }
}
