import Foundation
import Testing

@testable import Tokenizers

/// `model.merges` as "a b" strings (the committed file) and as ["a", "b"] pairs (files saved by newer
/// `tokenizers`) must give the same tokenizer.
@Suite struct MergesFormatTests {
    @Test func pairsFormGivesTheSameIDs() throws {
        var object = try TokenizerFixtures.tokenizerObject()
        var model = try #require(object["model"] as? [String: Any])
        let lines = try #require(model["merges"] as? [String])
        model["merges"] = lines.map { line in line.split(separator: " ").map(String.init) }
        object["model"] = model
        let pairs = try Tokenizer(data: TokenizerFixtures.data(object))
        let golden = try TokenizerFixtures.golden.get()
        for item in golden.cases { #expect(pairs.encode(item.text) == item.ids, "\(item.testDescription)") }
    }

    /// A tiny vocabulary shows rank order, `#version` lines and `ignore_merges`.
    @Test func tinyVocabularyFollowsMergeRanks() throws {
        func tokenizer(merges: Any, ignoreMerges: Bool = false) throws -> Tokenizer {
            var vocabulary = TinyTokenizer.byteVocabulary()
            vocabulary["ab"] = 256
            vocabulary["bc"] = 257
            vocabulary["abc"] = 258
            vocabulary["abcd"] = 259
            let object = TinyTokenizer.object(vocabulary: vocabulary, merges: merges, ignoreMerges: ignoreMerges)
            return try Tokenizer(data: TokenizerFixtures.data(object))
        }
        // "b c" ranks before "a b": abc -> a + bc, and there is no merge (a, bc).
        let bcFirst = try tokenizer(merges: ["#version: 0.2", "b c", "a b", "ab c"])
        let a = try #require(bcFirst.tokenID("a"))
        #expect(bcFirst.encode("abc") == [a, 257])
        let abFirst = try tokenizer(merges: [["a", "b"], ["b", "c"], ["ab", "c"]])
        #expect(abFirst.encode("abc") == [258])
        // "abcd" is a token but no merge reaches it; ignore_merges emits it whole.
        let merged = try tokenizer(merges: ["a b", "ab c"])
        let d = try #require(merged.tokenID("d"))
        #expect(merged.encode("abcd") == [258, d])
        let whole = try tokenizer(merges: ["a b", "ab c"], ignoreMerges: true)
        #expect(whole.encode("abcd") == [259])
        #expect(whole.encode("abc d") == [258, try #require(whole.tokenID("Ġ")), d])
    }
}

/// Builds small tokenizer.json objects with the Qwen2 pipeline around a given vocabulary.
enum TinyTokenizer {
    /// The 256 byte-level characters, with ids 0...255 in byte order.
    static func byteVocabulary() -> [String: Int] {
        var vocabulary: [String: Int] = [:]
        for (index, character) in ByteLevelAlphabet.characters.enumerated() { vocabulary[String(character)] = index }
        return vocabulary
    }

    static func object(
        vocabulary: [String: Int], merges: Any, ignoreMerges: Bool = false, addedTokens: [[String: Any]] = []
    ) -> [String: Any] {
        let byteLevel: [String: Any] = [
            "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false,
        ]
        return [
            "version": "1.0",
            "added_tokens": addedTokens,
            "normalizer": ["type": "NFC"],
            "pre_tokenizer": [
                "type": "Sequence",
                "pretokenizers": [
                    [
                        "type": "Split", "pattern": ["Regex": Qwen2SplitPattern.regex], "behavior": "Isolated",
                        "invert": false,
                    ] as [String: Any],
                    byteLevel,
                ],
            ] as [String: Any],
            "post_processor": byteLevel,
            "decoder": byteLevel,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": ignoreMerges,
                "vocab": vocabulary, "merges": merges,
            ] as [String: Any],
        ]
    }
}
