import Foundation
import TestSupport
import Testing

@testable import Tokenizers

/// Every kind of bad input is a thrown `TokenizerError` whose message says what is wrong.
@Suite struct LoadingErrorTests {
    /// A small valid tokenizer.json: the 256 byte-level characters, "Ġt", "Ġth", "Ġthe" and two added tokens.
    static func baseObject() -> [String: Any] {
        var vocabulary = TinyTokenizer.byteVocabulary()
        for token in ["Ġt", "Ġth", "Ġthe"] { vocabulary[token] = vocabulary.count }
        let added: [[String: Any]] = [
            ["id": 259, "content": "<|endoftext|>", "special": true, "normalized": false],
            ["id": 260, "content": "<|im_start|>", "special": true, "normalized": false],
        ]
        return TinyTokenizer.object(vocabulary: vocabulary, merges: ["Ġ t", "Ġt h", "Ġth e"], addedTokens: added)
    }

    @Test func baseObjectLoads() throws {
        let tokenizer = try Tokenizer(data: TokenizerFixtures.data(Self.baseObject()))
        #expect(tokenizer.encode("<|im_start|> the") == [260, 258])
        #expect(tokenizer.vocabularySize == 261)
    }

    /// Loads the small tokenizer with one change and returns the error message.
    private func message(loading change: (inout [String: Any]) throws -> Void) throws -> String {
        var object = Self.baseObject()
        try change(&object)
        return try thrownMessage({ _ = try Tokenizer(data: TokenizerFixtures.data(object)) })
    }

    private func thrownMessage(_ body: () throws -> Void) throws -> String {
        do {
            try body()
        } catch let error as TokenizerError {
            return error.description
        }
        Issue.record("expected a TokenizerError")
        return ""
    }

    private func model(_ object: inout [String: Any], _ change: (inout [String: Any]) -> Void) throws {
        var model = try #require(object["model"] as? [String: Any])
        change(&model)
        object["model"] = model
    }

    @Test func missingFile() throws {
        let text = try thrownMessage({
            _ = try Tokenizer(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer.json"))
        })
        #expect(text.contains("no tokenizer.json at /nonexistent/tokenizer.json"))
    }

    @Test func directoryWithoutTokenizerJSON() throws {
        let directory = try Fixtures.temporaryDirectory("tokenizer-empty")
        defer { try? FileManager.default.removeItem(at: directory) }
        let text = try thrownMessage({ _ = try Tokenizer(contentsOf: directory) })
        #expect(text.contains(directory.appendingPathComponent("tokenizer.json").path))
        #expect(text.contains("model directory"))
    }

    @Test func loadsFromADirectory() throws {
        let directory = try Fixtures.temporaryDirectory("tokenizer-dir")
        defer { try? FileManager.default.removeItem(at: directory) }
        try TokenizerFixtures.tokenizerJSON.write(to: directory.appendingPathComponent("tokenizer.json"))
        let tokenizer = try Tokenizer(contentsOf: directory)
        #expect(tokenizer.encode("Hello, world") == [9707, 11, 1879])
    }

    @Test func notJSON() throws {
        let directory = try Fixtures.temporaryDirectory("tokenizer-bad")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("tokenizer.json")
        try Data("this is not json".utf8).write(to: file)
        let text = try thrownMessage({ _ = try Tokenizer(contentsOf: file) })
        #expect(text.contains("invalid tokenizer.json \(file.path)"))
        #expect(text.contains("not valid JSON"))
    }

    @Test func missingModel() throws {
        let text = try thrownMessage({ _ = try Tokenizer(data: Data("{\"added_tokens\": []}".utf8)) })
        #expect(text.contains("missing key \"model\""))
    }

    @Test func wrongValueType() throws {
        let text = try message(loading: { object in try model(&object) { $0["vocab"] = ["a": "zero"] } })
        #expect(text.contains("model.vocab"))
    }

    @Test func unknownModelType() throws {
        let text = try message(loading: { object in try model(&object) { $0["type"] = "WordPiece" } })
        #expect(text.contains("unsupported model type \"WordPiece\""))
        #expect(text.contains("\"BPE\""))
    }

    @Test func unknownNormalizer() throws {
        let text = try message(loading: { $0["normalizer"] = ["type": "Lowercase"] })
        #expect(text.contains("unsupported normalizer type \"Lowercase\""))
    }

    @Test func unknownPreTokenizer() throws {
        let text = try message(loading: { $0["pre_tokenizer"] = ["type": "Whitespace"] })
        #expect(text.contains("unsupported pre_tokenizer type \"Whitespace\""))
    }

    @Test func otherSplitPattern() throws {
        let text = try message(loading: { object in
            var pre = try #require(object["pre_tokenizer"] as? [String: Any])
            var steps = try #require(pre["pretokenizers"] as? [[String: Any]])
            steps[0]["pattern"] = ["Regex": "\\s+"]
            pre["pretokenizers"] = steps
            object["pre_tokenizer"] = pre
        })
        #expect(text.contains("setting pattern = Regex \\s+"))
    }

    @Test func byteLevelWithRegex() throws {
        let text = try message(loading: {
            $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]
        })
        #expect(text.contains("use_regex = true"))
    }

    @Test func unknownDecoder() throws {
        let text = try message(loading: { $0["decoder"] = ["type": "WordPiece", "prefix": "##"] })
        #expect(text.contains("unsupported decoder type \"WordPiece\""))
    }

    @Test func mergeWithUnknownToken() throws {
        let text = try message(loading: { object in
            try model(&object) { $0["merges"] = ["Ġ t", "Ġt zzzz"] }
        })
        #expect(text.contains("merge #1 refers to token \"zzzz\" which is not in the vocabulary"))
    }

    @Test func mergeWhoseResultIsUnknown() throws {
        let text = try message(loading: { object in try model(&object) { $0["merges"] = ["Ġ t", "Ċ Ġt"] } })
        #expect(text.contains("merge #1 refers to token"))
    }

    @Test func malformedMerges() throws {
        let line = try message(loading: { object in try model(&object) { $0["merges"] = ["a b c"] } })
        #expect(line.contains("malformed merge #0 \"a b c\""))
        let pair = try message(loading: { object in try model(&object) { $0["merges"] = [["a"]] } })
        #expect(pair.contains("malformed merge #0 \"[a]\""))
    }

    @Test func unsupportedModelSettings() throws {
        let fallback = try message(loading: { object in try model(&object) { $0["byte_fallback"] = true } })
        #expect(fallback.contains("byte_fallback = true"))
        let prefix = try message(loading: { object in try model(&object) { $0["continuing_subword_prefix"] = "##" } })
        #expect(prefix.contains("continuing_subword_prefix = ##"))
        let dropout = try message(loading: { object in try model(&object) { $0["dropout"] = 0.1 } })
        #expect(dropout.contains("dropout = 0.1"))
    }

    @Test func negativeVocabularyID() throws {
        let text = try message(loading: { object in
            try model(&object) { model in
                var vocabulary = model["vocab"] as? [String: Any] ?? [:]
                vocabulary["oops"] = -5
                model["vocab"] = vocabulary
            }
        })
        #expect(text.contains("token \"oops\" has invalid id -5"))
    }

    @Test func addedTokenWithWrongID() throws {
        let text = try message(loading: { object in
            var tokens = try #require(object["added_tokens"] as? [[String: Any]])
            tokens[1]["id"] = 300
            object["added_tokens"] = tokens
        })
        #expect(text.contains("added token \"<|im_start|>\""))
        #expect(text.contains("declared id 300, but the tokenizers library gives it id 260"))
    }

    @Test func duplicateAddedToken() throws {
        let text = try message(loading: { object in
            var tokens = try #require(object["added_tokens"] as? [[String: Any]])
            tokens.append(tokens[0])
            object["added_tokens"] = tokens
        })
        #expect(text.contains("added token \"<|endoftext|>\" in tokenizer.json: listed twice"))
    }
}
