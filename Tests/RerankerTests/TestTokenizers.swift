import Reranker
import Testing

/// The Qwen2 ids of the special tokens the prompt uses.
let qwen2SpecialTokens: [String: Int32] = [
    "<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645,
    "<|vision_start|>": 151652, "<|vision_end|>": 151653, "<|vision_pad|>": 151654,
    "<|image_pad|>": 151655, "<|video_pad|>": 151656,
]

/// Answers `encode` from a table of reference tokenizations (exact for the texts it lists); any other
/// text is a test failure.
struct TableTokenizer: PromptTokenizing {
    let table: [String: [Int32]]

    init(_ encodings: [PromptFixtures.Encoding]) {
        table = Dictionary(encodings.map { ($0.text, $0.ids) }, uniquingKeysWith: { first, _ in first })
    }

    func encode(_ text: String) -> [Int32] {
        guard let ids = table[text] else {
            Issue.record("TableTokenizer was asked for a text the reference did not tokenize: \(text.debugDescription)")
            return []
        }
        return ids
    }

    func tokenID(_ token: String) -> Int32? { qwen2SpecialTokens[token] }
}

/// A tokenizer with exactly defined behaviour: the special tokens above are matched first (each one id);
/// every other Unicode scalar is one token whose id is its scalar value. Token counts therefore grow by one
/// per scalar, which makes the longest fitting prefix easy to state.
struct ScalarTokenizer: PromptTokenizing {
    /// Counts `encode` calls, to check that truncation stays bounded.
    final class Counter: @unchecked Sendable {
        var calls = 0
    }

    let counter = Counter()

    func encode(_ text: String) -> [Int32] {
        counter.calls += 1
        var ids = [Int32]()
        var rest = Substring(text).unicodeScalars
        outer: while let first = rest.first {
            if first == "<" {
                for (token, id) in qwen2SpecialTokens where rest.starts(with: token.unicodeScalars) {
                    ids.append(id)
                    rest = rest.dropFirst(token.unicodeScalars.count)
                    continue outer
                }
            }
            ids.append(Int32(first.value))
            rest = rest.dropFirst()
        }
        return ids
    }

    func tokenID(_ token: String) -> Int32? { qwen2SpecialTokens[token] }
}
