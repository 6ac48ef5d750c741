import Foundation

/// A query or a document as clients send it: a bare string (text), or an object with `text` and/or
/// `image` (base64, a `data:` URL, or an http(s) URL when the server allows image URLs).
public struct ItemInput: Codable, Sendable, Equatable {
    public var text: String?
    public var image: String?

    public init(text: String? = nil, image: String? = nil) {
        self.text = text
        self.image = image
    }

    enum CodingKeys: String, CodingKey { case text, image }

    public init(from decoder: any Decoder) throws {
        if let container = try? decoder.singleValueContainer(), let text = try? container.decode(String.self) {
            self.init(text: text)
            return
        }
        guard let object = try? decoder.container(keyedBy: CodingKeys.self) else {
            throw DecodingError.typeMismatch(
                ItemInput.self,
                .init(codingPath: decoder.codingPath,
                      debugDescription: "expected a string or an object with \"text\" and/or \"image\""))
        }
        self.init(
            text: try object.decodeIfPresent(String.self, forKey: .text),
            image: try object.decodeIfPresent(String.self, forKey: .image))
    }
}

/// `POST /rerank` and `POST /v1/rerank` (the Jina/Cohere v1 shape).
public struct RerankRequestV1: Codable, Sendable {
    public var model: String?
    public var query: ItemInput
    public var documents: [ItemInput]
    /// What "relevant" means; the model's default instruction when absent.
    public var instruction: String?
    /// Return only the best `top_n` results.
    public var topN: Int?
    /// Echo each document in its result.
    public var returnDocuments: Bool?
    /// Cap on each pair's prompt tokens (document text is cut to fit; results say `truncated`).
    public var maxTokensPerDoc: Int?

    enum CodingKeys: String, CodingKey {
        case model, query, documents, instruction
        case topN = "top_n"
        case returnDocuments = "return_documents"
        case maxTokensPerDoc = "max_tokens_per_doc"
    }

    public init(from decoder: any Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        model = try object.decodeIfPresent(String.self, forKey: .model)
        query = try object.decode(ItemInput.self, forKey: .query)
        documents = try object.decode([ItemInput].self, forKey: .documents)
        instruction = try object.decodeIfPresent(String.self, forKey: .instruction)
        topN = try object.decodeWholeNumberIfPresent(forKey: .topN)
        returnDocuments = try object.decodeIfPresent(Bool.self, forKey: .returnDocuments)
        maxTokensPerDoc = try object.decodeWholeNumberIfPresent(forKey: .maxTokensPerDoc)
    }
}

/// One ranked document in a v1 answer.
public struct RerankResultV1: Codable, Sendable, Equatable {
    public var index: Int
    public var relevanceScore: Double
    public var logit: Double
    /// Prompt tokens read for this pair.
    public var tokens: Int
    /// Whether the document text was cut to fit the token limit.
    public var truncated: Bool
    public var document: ItemInput?

    enum CodingKeys: String, CodingKey {
        case index, logit, tokens, truncated, document
        case relevanceScore = "relevance_score"
    }
}

/// The v1 answer: results most relevant first.
public struct RerankResponseV1: Codable, Sendable {
    public struct Usage: Codable, Sendable, Equatable {
        public var totalTokens: Int
        enum CodingKeys: String, CodingKey { case totalTokens = "total_tokens" }
    }
    public var model: String
    public var results: [RerankResultV1]
    public var usage: Usage
}

/// `POST /v2/rerank` (Cohere v2 field names; documents may also be objects with an image).
public struct RerankRequestV2: Codable, Sendable {
    public var model: String?
    public var query: ItemInput
    public var documents: [ItemInput]
    public var instruction: String?
    public var topN: Int?
    public var maxTokensPerDoc: Int?
    public var returnDocuments: Bool?

    enum CodingKeys: String, CodingKey {
        case model, query, documents, instruction
        case topN = "top_n"
        case maxTokensPerDoc = "max_tokens_per_doc"
        case returnDocuments = "return_documents"
    }

    public init(from decoder: any Decoder) throws {
        let object = try decoder.container(keyedBy: CodingKeys.self)
        model = try object.decodeIfPresent(String.self, forKey: .model)
        query = try object.decode(ItemInput.self, forKey: .query)
        documents = try object.decode([ItemInput].self, forKey: .documents)
        instruction = try object.decodeIfPresent(String.self, forKey: .instruction)
        topN = try object.decodeWholeNumberIfPresent(forKey: .topN)
        maxTokensPerDoc = try object.decodeWholeNumberIfPresent(forKey: .maxTokensPerDoc)
        returnDocuments = try object.decodeIfPresent(Bool.self, forKey: .returnDocuments)
    }
}

/// The v2 answer (Cohere v2): `id`, `results` with `index` and `relevance_score`, and `meta`.
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
    public var results: [Result]
    public var meta: Meta
}
