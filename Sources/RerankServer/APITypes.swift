import Foundation

/// `POST /rerank`, `/v1/rerank` and `/v2/rerank`: the Jina, Cohere (v1 and v2) and vLLM rerank shape.
/// (A `/rerank` body with `texts` and no `documents` is TEI's, ``TEIRerankRequest``.)
public struct RerankRequest: Decodable, Sendable {
    public var model: String?
    public var query: ItemInput
    /// The documents; vLLM also allows a single one.
    public var documents: [ItemInput]
    /// What "relevant" means; the model's default instruction when absent.
    public var instruction: String?
    /// Return only the best `top_n` results.
    public var topN: Int?
    /// Echo each document (text and image URLs, never base64) in its result.
    public var returnDocuments: Bool?
    /// Cohere: cut each document's text to this many tokens (results say `truncated`).
    public var maxTokensPerDoc: Int?
    /// Cohere v1: for object documents, the fields the model reads, as `name: value` lines in this order.
    public var rankFields: [String]?
    /// vLLM: per-request image size bounds.
    public var mmProcessorKwargs: MMProcessorKwargs?

    enum CodingKeys: String, CodingKey {
        case model, query, documents, instruction
        case topN = "top_n"
        case returnDocuments = "return_documents"
        case maxTokensPerDoc = "max_tokens_per_doc"
        case rankFields = "rank_fields"
        case mmProcessorKwargs = "mm_processor_kwargs"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        query = try c.decode(ItemInput.self, forKey: .query)
        documents = try c.decode(ItemList.self, forKey: .documents).items
        instruction = try c.decodeIfPresent(String.self, forKey: .instruction)
        topN = try c.decodeWholeNumberIfPresent(forKey: .topN)
        returnDocuments = try c.decodeIfPresent(Bool.self, forKey: .returnDocuments)
        maxTokensPerDoc = try c.decodeWholeNumberIfPresent(forKey: .maxTokensPerDoc)
        rankFields = try c.decodeIfPresent([String].self, forKey: .rankFields)
        mmProcessorKwargs = try c.decodeIfPresent(MMProcessorKwargs.self, forKey: .mmProcessorKwargs)
    }
}

/// The request type of `/v1/rerank` (one type serves every rerank route).
public typealias RerankRequestV1 = RerankRequest
/// The request type of `/v2/rerank` (one type serves every rerank route).
public typealias RerankRequestV2 = RerankRequest

/// vLLM's `mm_processor_kwargs`: image size bounds for this request, within the server's.
public struct MMProcessorKwargs: Codable, Sendable, Equatable {
    public var minPixels: Int?
    public var maxPixels: Int?
    enum CodingKeys: String, CodingKey {
        case minPixels = "min_pixels"
        case maxPixels = "max_pixels"
    }
}

/// Token counts of an answer: `prompt_tokens` (vLLM) and `total_tokens` (Jina, vLLM) are the same number,
/// every prompt token the model read.
public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var totalTokens: Int
    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case totalTokens = "total_tokens"
    }
    /// Usage of `tokens` prompt tokens.
    public init(tokens: Int) {
        promptTokens = tokens
        totalTokens = tokens
    }

}

/// One ranked document in a v1 answer.
public struct RerankResultV1: Codable, Sendable, Equatable {
    public var index: Int
    public var relevanceScore: Double
    public var logit: Double
    /// Prompt tokens read for this pair.
    public var tokens: Int
    /// Whether the document text was cut (to `max_tokens_per_doc` or to the server's length limit).
    public var truncated: Bool
    public var document: ItemInput?

    enum CodingKeys: String, CodingKey {
        case index, logit, tokens, truncated, document
        case relevanceScore = "relevance_score"
    }
}

/// The v1 answer: results most relevant first.
public struct RerankResponseV1: Codable, Sendable {
    /// The request id (also the `X-Request-Id` header).
    public var id: String
    public var model: String
    public var results: [RerankResultV1]
    public var usage: Usage
}

/// The v2 answer (Cohere v2): `id`, `results` with `index` and `relevance_score`, and `meta`; plus
/// vLLM's `model` and `usage`.
public struct RerankResponseV2: Codable, Sendable {
    public struct Result: Codable, Sendable, Equatable {
        public var index: Int
        public var relevanceScore: Double
        public var document: ItemInput?
        enum CodingKeys: String, CodingKey {
            case index, document
            case relevanceScore = "relevance_score"
        }
    }
    public struct Meta: Codable, Sendable {
        public struct APIVersion: Codable, Sendable { public var version: String }
        public struct BilledUnits: Codable, Sendable {
            public var searchUnits: Int
            enum CodingKeys: String, CodingKey { case searchUnits = "search_units" }
        }
        public struct Tokens: Codable, Sendable {
            public var inputTokens: Int
            enum CodingKeys: String, CodingKey { case inputTokens = "input_tokens" }
        }
        public var apiVersion: APIVersion
        public var billedUnits: BilledUnits
        public var tokens: Tokens
        enum CodingKeys: String, CodingKey {
            case tokens
            case apiVersion = "api_version"
            case billedUnits = "billed_units"
        }
    }
    public var id: String
    public var model: String
    public var results: [Result]
    public var meta: Meta
    public var usage: Usage
}
