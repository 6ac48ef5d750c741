import Foundation
import Qwen25VL
import Reranker
import TensorKit
import TestSupport

/// Decoded `Fixtures/prompt/lychee_prompts.json` (written by `tools/make_prompt_fixtures.py` from the
/// transformers Qwen2.5-VL processor, chat template and the real Qwen2 tokenizer).
enum PromptFixtures {
    struct Side: Decodable {
        let text: String
        let images: [[Int]]
        var segment: PromptSegment {
            PromptSegment(text: text, images: images.map { VisionGrid(t: $0[0], h: $0[1], w: $0[2]) })
        }
    }

    struct Encoding: Decodable {
        let text: String
        let ids: [Int32]
    }

    struct Truncation: Decodable {
        let originalTokenCount: Int
        let keptTokenCount: Int
        let originalDocumentCharacters: Int
        let keptDocumentCharacters: Int

        enum CodingKeys: String, CodingKey {
            case originalTokenCount = "original_token_count", keptTokenCount = "kept_token_count"
            case originalDocumentCharacters = "original_document_characters"
            case keptDocumentCharacters = "kept_document_characters"
        }
    }

    struct Expected: Decodable {
        let inputIDs: [Int32]
        let imagePadStarts: [Int]
        let truncation: Truncation?

        enum CodingKeys: String, CodingKey {
            case inputIDs = "input_ids", imagePadStarts = "image_pad_starts", truncation
        }
    }

    struct ExpectedError: Decodable {
        let kind: String
        let tokens: Int
    }

    struct Case: Decodable, CustomStringConvertible {
        let name: String
        let instruction: String?
        let maxLength: Int
        let query: Side
        let document: Side
        let encodings: [Encoding]
        let expected: Expected?
        let expectedError: ExpectedError?

        var description: String { name }

        enum CodingKeys: String, CodingKey {
            case name, instruction, maxLength = "max_length", query, document, encodings, expected
            case expectedError = "expected_error"
        }

        /// The error `PromptBuilder` must throw for this case, if any.
        var promptError: PromptError? {
            guard let expectedError else { return nil }
            switch expectedError.kind {
            case "queryTooLong": return .queryTooLong(tokens: expectedError.tokens, maxLength: maxLength)
            case "documentImagesTooLong":
                return .documentImagesTooLong(tokens: expectedError.tokens, maxLength: maxLength)
            default: return nil
            }
        }
    }

    private struct File: Decodable { let cases: [Case] }

    /// All cases; empty when the file is missing or malformed (`fixturesPresent` catches that).
    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: Fixtures.url("prompt/lychee_prompts.json")),
            let file = try? JSONDecoder().decode(File.self, from: data)
        else { return [] }
        return file.cases
    }()

    /// Cases a table tokenizer can run: everything except successful truncations, whose search
    /// tokenizes prefixes the fixture cannot list in advance.
    static var tableCases: [Case] { cases.filter { $0.expected?.truncation == nil } }
}
