import Foundation
import Testing

@testable import Tokenizers

/// Added tokens with `lstrip`, `rstrip`, `single_word` and `normalized` set, appended to Qwen's own
/// (golden ids from `tokenizers`, in `golden.json` under `flag_tokens`).
@Suite struct AddedTokenFlagTests {
    static let flagged: Result<Tokenizer, any Error> = Result {
        var object = try TokenizerFixtures.tokenizerObject()
        let golden = try TokenizerFixtures.golden.get()
        let existing = try #require(object["added_tokens"] as? [[String: Any]])
        let extra = golden.flagTokens.addedTokens.map { $0.mapValues(\.any) }
        object["added_tokens"] = existing + extra
        return try Tokenizer(data: TokenizerFixtures.data(object))
    }

    static let cases: [Golden.Case] = (try? TokenizerFixtures.golden.get().flagTokens.cases) ?? []

    @Test(arguments: cases)
    func encodesAndDecodesLikeTokenizers(_ golden: Golden.Case) throws {
        let tokenizer = try Self.flagged.get()
        #expect(tokenizer.encode(golden.text) == golden.ids)
        #expect(tokenizer.decode(golden.ids) == golden.decoded)
        #expect(tokenizer.decode(golden.ids, skipSpecialTokens: true) == golden.decodedSkipSpecial)
    }

    @Test func flagCasesArePresent() {
        #expect(Self.cases.count > 20)
    }

    @Test func specialFlagOnlyAffectsSkipping() throws {
        let tokenizer = try TokenizerFixtures.tokenizer.get()
        // <tool_call> is an added token that is not special: matched whole, kept when skipping special tokens.
        let ids = tokenizer.encode("<|im_start|><tool_call>x")
        #expect(ids == [151_644, 151_657, 87])
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "<tool_call>x")
    }
}
