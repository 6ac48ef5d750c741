import Foundation
import Tokenizers

/// A short text that reaches every stage of the pipeline: added tokens written in the text, NFC (a decomposed
/// accent), the split pattern's letters, digits, punctuation, contractions and newlines, and multi-byte UTF-8.
let sampleText = "<|im_start|>user\nCafe\u{0301} isn't 42 km; 你好 🙂!\n\n  <|im_end|>\n"

/// One fuzz input: the input is a `tokenizer.json`.
///
/// Loads it as `Tokenizer(contentsOf:)` does (from bytes), and when it loads, encodes the sample text, decodes
/// the ids back and checks that every id it produced names a token of the file (an id outside the vocabulary would
/// index past the model's embedding table), so that a file the loader accepts but the encoder cannot use shows up
/// as a crash. Refusals are rendered as the messages users would see.
func tokenizerJSONFuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let data = Data(bytes: start, count: count)
    do {
        let tokenizer = try Tokenizer(data: data)
        let ids = tokenizer.encode(sampleText)
        _ = tokenizer.decode(ids)
        _ = tokenizer.decode(ids, skipSpecialTokens: true)
        for id in ids {
            precondition(tokenizer.token(for: id) != nil, "encode produced id \(id), which names no token")
        }
    } catch {
        _ = "\(error)"
    }
    return 0
}
