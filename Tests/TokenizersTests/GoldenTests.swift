import Foundation
import Testing

@testable import Tokenizers

/// Every golden case of `golden.json` against the real-vocabulary Qwen2 tokenizer.
@Suite struct GoldenTests {
    static let cases: [Golden.Case] = (try? TokenizerFixtures.golden.get().cases) ?? []

    @Test func fixturesLoad() throws {
        _ = try TokenizerFixtures.tokenizer.get()
        let golden = try TokenizerFixtures.golden.get()
        #expect(golden.cases.count >= 40)
    }

    @Test(arguments: cases)
    func encodesExactly(_ golden: Golden.Case) throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        let ids = tokenizer.encode(golden.text)
        #expect(ids.count == golden.ids.count)
        if let mismatch = zip(ids, golden.ids).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            let from = max(0, mismatch.offset - 3)
            Issue.record(
                """
                first difference at index \(mismatch.offset): got \(Array(ids[from..<min(ids.count, from + 8)])), \
                expected \(Array(golden.ids[from..<min(golden.ids.count, from + 8)]))
                """)
        }
    }

    @Test(arguments: cases)
    func decodesLikeTokenizers(_ golden: Golden.Case) throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        #expect(tokenizer.decode(golden.ids) == golden.decoded)
        #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
        // Round trip: decoding the ids gives back the NFC form of the text.
        #expect(tokenizer.decode(tokenizer.encode(golden.text)) == golden.text.precomposedStringWithCanonicalMapping)
    }

    @Test(arguments: cases.filter { $0.pieces != nil })
    func preTokenizesLikeTokenizers(_ golden: Golden.Case) throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        var utf8 = Array(golden.text.precomposedStringWithCanonicalMapping.utf8)
        var pieces: [Range<Int>] = []
        var scratch = SplitScratch()
        utf8.withUnsafeMutableBufferPointer { buffer in
            tokenizer.preTokenizer.split(UnsafeBufferPointer(buffer), into: &pieces, scratch: &scratch)
        }
        let texts = pieces.map { ByteLevelAlphabet.text(of: utf8[$0]) }
        #expect(texts == golden.pieces)
    }

    @Test func decodesArbitraryIDLists() throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        let golden = try TokenizerFixtures.golden.get()
        for item in golden.decodeCases {
            #expect(tokenizer.decode(item.ids, skipSpecialTokens: item.skipSpecial) == item.text, "ids \(item.ids)")
        }
        #expect(tokenizer.decode([-1, 151_665, Int32.max]) == "")
    }

    @Test func looksUpTokensAndIDs() throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        let golden = try TokenizerFixtures.golden.get()
        for (token, id) in golden.tokenIDs {
            #expect(tokenizer.tokenID(token) == id)
            #expect(tokenizer.token(for: id) == token)
        }
        #expect(tokenizer.vocabularySize == golden.vocabSizeWithAdded)
        #expect(tokenizer.tokenID("yes") == 9693)
        #expect(tokenizer.tokenID("no") == 2152)
        #expect(tokenizer.tokenID("<|image_pad|>") == 151_655)
        #expect(tokenizer.tokenID("not a token at all") == nil)
        #expect(tokenizer.token(for: -1) == nil)
        #expect(tokenizer.token(for: 151_665) == nil)
    }

    @Test func encodesTheSameFromManyThreads() async throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        let samples = Self.cases.filter { $0.ids.count < 2000 }
        let results = await withTaskGroup(of: Bool.self) { group in
            for round in 0..<8 {
                group.addTask {
                    samples.shuffled().allSatisfy { tokenizer.encode($0.text) == $0.ids } && round >= 0
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }

    @Test func encodesTheSameWithoutTheWordCache() throws {
        let uncached = try Tokenizer(data: TokenizerFixtures.tokenizerJSON, wordCacheCapacity: 0)
        for golden in Self.cases { #expect(uncached.encode(golden.text) == golden.ids, "\(golden.testDescription)") }
    }
}
