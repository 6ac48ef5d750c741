import Foundation

/// A Codable copy of the parts of a Hugging Face `tokenizer.json` that a Qwen2 tokenizer uses.
///
/// Fields the pipeline does not need (`truncation`, `padding`, `post_processor`) are not decoded: encoding never
/// adds special tokens (like `encode(text, add_special_tokens=False)`), so the post-processor cannot change ids.
struct TokenizerFile: Decodable {
    var addedTokens: [AddedTokenEntry]
    var normalizer: ComponentConfiguration?
    var preTokenizer: ComponentConfiguration?
    var decoder: ComponentConfiguration?
    var model: ModelConfiguration

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens"
        case normalizer
        case preTokenizer = "pre_tokenizer"
        case decoder
        case model
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        addedTokens = try container.decodeIfPresent([AddedTokenEntry].self, forKey: .addedTokens) ?? []
        normalizer = try container.decodeIfPresent(ComponentConfiguration.self, forKey: .normalizer)
        preTokenizer = try container.decodeIfPresent(ComponentConfiguration.self, forKey: .preTokenizer)
        self.decoder = try container.decodeIfPresent(ComponentConfiguration.self, forKey: .decoder)
        model = try container.decode(ModelConfiguration.self, forKey: .model)
    }

    /// Decodes `data`, turning `DecodingError`s into a `TokenizerError` that says where the file is wrong.
    static func decode(_ data: Data, path: String?) throws(TokenizerError) -> TokenizerFile {
        do {
            return try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch let error as TokenizerError {
            throw error
        } catch let error as DecodingError {
            throw .invalidJSON(path: path, reason: describe(error))
        } catch {
            throw .invalidJSON(path: path, reason: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func location(_ path: [any CodingKey]) -> String {
            let keys = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the top level" : String(keys.dropFirst(keys.hasPrefix(".") ? 1 : 0))
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON (\(context.debugDescription))" }
            return "bad value at \(location(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "missing key \"\(key.stringValue)\" at \(location(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(location(context.codingPath))"
        case .valueNotFound(let type, let context):
            return "expected \(type), found null, at \(location(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }
}

/// One entry of `added_tokens` (defaults as in `tokenizers`: `normalized` is true unless stated).
struct AddedTokenEntry: Decodable, Equatable {
    var id: Int
    var content: String
    var singleWord = false
    var lstrip = false
    var rstrip = false
    var normalized = true
    var special = false

    enum CodingKeys: String, CodingKey {
        case id, content, lstrip, rstrip, normalized, special
        case singleWord = "single_word"
    }

    init(id: Int, content: String, special: Bool, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int.self, forKey: .id)
        content = try container.decode(String.self, forKey: .content)
        singleWord = try container.decodeIfPresent(Bool.self, forKey: .singleWord) ?? false
        lstrip = try container.decodeIfPresent(Bool.self, forKey: .lstrip) ?? false
        rstrip = try container.decodeIfPresent(Bool.self, forKey: .rstrip) ?? false
        normalized = try container.decodeIfPresent(Bool.self, forKey: .normalized) ?? true
        special = try container.decodeIfPresent(Bool.self, forKey: .special) ?? false
    }
}

/// A `normalizer`, `pre_tokenizer` or `decoder` object: a `type` plus the settings the supported types use.
/// Which combinations are accepted is decided by the factories (`makeNormalizer`, `makePreTokenizer`, ...).
struct ComponentConfiguration: Decodable {
    var type: String
    /// `Sequence` members (`normalizers`, `pretokenizers` or `decoders`, whichever the file uses).
    var members: [ComponentConfiguration]?
    /// `Split`: the pattern, either a regex or a literal string.
    var regex: String?
    var literal: String?
    var behavior: String?
    var invert: Bool?
    /// `ByteLevel` settings.
    var addPrefixSpace: Bool?
    var useRegex: Bool?

    enum CodingKeys: String, CodingKey {
        case type, normalizers, pretokenizers, decoders, pattern, behavior, invert
        case addPrefixSpace = "add_prefix_space"
        case useRegex = "use_regex"
    }

    enum PatternKeys: String, CodingKey {
        case regex = "Regex"
        case literal = "String"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        members =
            try container.decodeIfPresent([ComponentConfiguration].self, forKey: .normalizers)
            ?? container.decodeIfPresent([ComponentConfiguration].self, forKey: .pretokenizers)
            ?? container.decodeIfPresent([ComponentConfiguration].self, forKey: .decoders)
        if container.contains(.pattern) {
            let pattern = try container.nestedContainer(keyedBy: PatternKeys.self, forKey: .pattern)
            regex = try pattern.decodeIfPresent(String.self, forKey: .regex)
            literal = try pattern.decodeIfPresent(String.self, forKey: .literal)
        }
        behavior = try container.decodeIfPresent(String.self, forKey: .behavior)
        invert = try container.decodeIfPresent(Bool.self, forKey: .invert)
        addPrefixSpace = try container.decodeIfPresent(Bool.self, forKey: .addPrefixSpace)
        useRegex = try container.decodeIfPresent(Bool.self, forKey: .useRegex)
    }
}

/// The `model` object. Only BPE is supported; `type` may be absent in older files (then `merges` marks BPE).
struct ModelConfiguration: Decodable {
    var type: String?
    var vocab: [String: Int]
    var merges: [MergeEntry]
    var dropout: Double?
    var unkToken: String?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    var byteFallback: Bool
    var ignoreMerges: Bool

    enum CodingKeys: String, CodingKey {
        case type, vocab, merges, dropout
        case unkToken = "unk_token"
        case continuingSubwordPrefix = "continuing_subword_prefix"
        case endOfWordSuffix = "end_of_word_suffix"
        case byteFallback = "byte_fallback"
        case ignoreMerges = "ignore_merges"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        if type ?? (container.contains(.merges) ? "BPE" : "(none)") != "BPE" {
            throw TokenizerError.unsupportedComponent(stage: "model", type: type ?? "(none)", supported: ["BPE"])
        }
        vocab = try container.decode([String: Int].self, forKey: .vocab)
        merges = try container.decodeIfPresent([MergeEntry].self, forKey: .merges) ?? []
        dropout = try container.decodeIfPresent(Double.self, forKey: .dropout)
        unkToken = try container.decodeIfPresent(String.self, forKey: .unkToken)
        continuingSubwordPrefix = try container.decodeIfPresent(String.self, forKey: .continuingSubwordPrefix)
        endOfWordSuffix = try container.decodeIfPresent(String.self, forKey: .endOfWordSuffix)
        byteFallback = try container.decodeIfPresent(Bool.self, forKey: .byteFallback) ?? false
        ignoreMerges = try container.decodeIfPresent(Bool.self, forKey: .ignoreMerges) ?? false
    }
}

/// One element of `model.merges`: the older `"a b"` line or the newer `["a", "b"]` pair.
enum MergeEntry: Decodable {
    case line(String)
    case pair([String])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let line = try? container.decode(String.self) {
            self = .line(line)
        } else {
            self = .pair(try container.decode([String].self))
        }
    }
}
