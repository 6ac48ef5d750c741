/// Everything that can go wrong while loading a `tokenizer.json`.
///
/// Encoding and decoding never throw: once a tokenizer is loaded, any text can be encoded and any list of ids
/// decoded (unknown ids are skipped, as the Hugging Face `tokenizers` library does).
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// No `tokenizer.json` at the given path (a file, or a directory that should hold one).
    case fileNotFound(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// The bytes are not JSON, or not the shape of a `tokenizer.json`.
    case invalidJSON(path: String?, reason: String)
    /// A stage (`normalizer`, `pre_tokenizer`, `model`, `decoder`) names a `type` this library does not implement.
    case unsupportedComponent(stage: String, type: String, supported: [String])
    /// A known component uses a setting this library does not implement (for example a different split regex).
    case unsupportedSetting(stage: String, setting: String, value: String, expected: String)
    /// A merge line is not two tokens separated by one space.
    case malformedMerge(rank: Int, merge: String)
    /// A merge refers to a token (one of its two parts, or their concatenation) missing from the vocabulary.
    case mergeTokenNotInVocabulary(rank: Int, token: String)
    /// A vocabulary or added-token id is negative or absurdly large.
    case invalidTokenID(token: String, id: Int)
    /// An `added_tokens` entry is repeated, or its id is not the one `tokenizers` would give it.
    case addedTokenConflict(token: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "no tokenizer.json at \(path): pass a tokenizer.json file or a model directory that holds one"
        case .unreadableFile(let path, let reason):
            return "cannot read tokenizer file \(path): \(reason)"
        case .invalidJSON(let path, let reason):
            let source = path.map { " \($0)" } ?? ""
            return "invalid tokenizer.json\(source): \(reason); re-download or re-export the file "
                + "with the Hugging Face `tokenizers` library"
        case .unsupportedComponent(let stage, let type, let supported):
            let list = supported.map { "\"\($0)\"" }.joined(separator: ", ")
            return "unsupported \(stage) type \"\(type)\" in tokenizer.json: only \(list) "
                + "(the Qwen2 byte-level BPE pipeline) is implemented"
        case .unsupportedSetting(let stage, let setting, let value, let expected):
            return "unsupported \(stage) setting \(setting) = \(value) in tokenizer.json: expected \(expected) "
                + "(the Qwen2 byte-level BPE pipeline)"
        case .malformedMerge(let rank, let merge):
            return "malformed merge #\(rank) \"\(merge)\" in tokenizer.json: expected two tokens separated by "
                + "one space, or a pair [\"a\", \"b\"]"
        case .mergeTokenNotInVocabulary(let rank, let token):
            return "merge #\(rank) refers to token \"\(token)\" which is not in the vocabulary; "
                + "the tokenizer.json is inconsistent"
        case .invalidTokenID(let token, let id):
            return "token \"\(token)\" has invalid id \(id) in tokenizer.json: ids must be in 0..<\(maximumTokenID)"
        case .addedTokenConflict(let token, let reason):
            return "added token \"\(token)\" in tokenizer.json: \(reason)"
        }
    }
}

/// Ids at or above this are refused when loading (tables are sized by the largest id).
let maximumTokenID = 1 << 24
