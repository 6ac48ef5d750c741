import Foundation
import TestSupport
import Testing

@testable import Tokenizers

/// The committed Qwen2 fixtures (made by `tools/make_tokenizer_fixtures.py`), loaded once for all tests.
enum TokenizerFixtures {
    /// The bytes of the real-vocabulary Qwen2 `tokenizer.json` (merges as "a b" lines).
    static let tokenizerJSON: Data = {
        do {
            return try gunzip(Fixtures.url("tokenizer/qwen2-tokenizer.json.gz"))
        } catch {
            return Data()  // the tests that need it then fail on loading, naming the problem
        }
    }()

    static let tokenizer: Result<Tokenizer, any Error> = Result { try Tokenizer(data: tokenizerJSON) }

    static let golden: Result<Golden, any Error> = Result {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Fixtures.url("tokenizer/golden.json")))
    }

    /// The fixture as a JSON object, to derive variants (pairs-form merges, bad files) from.
    static func tokenizerObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: tokenizerJSON) as? [String: Any] else {
            throw FixtureError("fixture tokenizer.json is not a JSON object")
        }
        return object
    }

    static func data(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object)
    }

    /// Decompresses a `.gz` file with the system `gzip`.
    static func gunzip(_ url: URL) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, !data.isEmpty else {
            throw FixtureError("gzip -dc \(url.path) failed with status \(process.terminationStatus)")
        }
        return data
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `Fixtures/tokenizer/golden.json`.
struct Golden: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let name: String?
        let text: String
        let ids: [Int32]
        let decoded: String
        let decodedSkipSpecial: String
        let pieces: [String]?
        var testDescription: String { name ?? String(reflecting: text) }

        enum CodingKeys: String, CodingKey {
            case name, text, ids, decoded, pieces
            case decodedSkipSpecial = "decoded_skip_special"
        }
    }

    struct DecodeCase: Decodable {
        let ids: [Int32]
        let skipSpecial: Bool
        let text: String
        enum CodingKeys: String, CodingKey {
            case ids, text
            case skipSpecial = "skip_special"
        }
    }

    struct FlagTokens: Decodable {
        let addedTokens: [[String: JSONValue]]
        let cases: [Case]
        enum CodingKeys: String, CodingKey {
            case cases
            case addedTokens = "added_tokens"
        }
    }

    let vocabSizeWithAdded: Int
    let tokenIDs: [String: Int32]
    let cases: [Case]
    let decodeCases: [DecodeCase]
    let flagTokens: FlagTokens

    enum CodingKeys: String, CodingKey {
        case cases
        case vocabSizeWithAdded = "vocab_size_with_added"
        case tokenIDs = "token_ids"
        case decodeCases = "decode_cases"
        case flagTokens = "flag_tokens"
    }
}

/// A JSON scalar, enough to carry the flag tokens' entries back into a tokenizer.json object.
enum JSONValue: Decodable {
    case bool(Bool)
    case number(Int)
    case string(String)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .number(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    var any: Any {
        switch self {
        case .bool(let value): return value
        case .number(let value): return value
        case .string(let value): return value
        }
    }
}
