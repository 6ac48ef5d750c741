/// Every fact about Lychee-Rerank-MM's prompt, in one place.
///
/// (unconfirmed) The layout follows SPEC section 1 and matches a public third-party scoring script for
/// `vec-ai/lychee-rerank-mm` (system text, default instruction, `<Instruct>: ` / `<Query>:` /
/// `\n<Document>:` prefixes, image before text, empty side left as a bare prefix). The model card does not
/// print the prompt; if the authors publish a different one, change it here and nowhere else.
///
/// Rendered with the Qwen2.5-VL chat template (system message given, generation prompt added):
/// ```
/// <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<Instruct>: {instruction}
///   <Query>:{query images}{query text}\n<Document>:{document images}{document text}
///   <|im_end|>\n<|im_start|>assistant\n
/// ```
/// (one line in reality; broken here for reading, with no characters between the pieces).
/// where each image is `<|vision_start|><|image_pad|><|vision_end|>` and its single `<|image_pad|>` is
/// expanded to the image's merged token count after tokenization, as Qwen2-VL's processor does.
public enum LycheePromptFormat {
    /// The system message. (unconfirmed)
    public static let systemPrompt =
        "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
        + "Note that the answer can only be \"yes\" or \"no\"."

    /// The instruction used when a request gives none. (unconfirmed)
    public static let defaultInstruction =
        "Given a web search query, retrieve relevant passages that answer the query"

    /// Text before the instruction. (unconfirmed)
    public static let instructionPrefix = "<Instruct>: "
    /// Text before the query's images and text; no space after the colon. (unconfirmed)
    public static let queryPrefix = "<Query>:"
    /// Text before the document's images and text. (unconfirmed)
    public static let documentPrefix = "\n<Document>:"

    /// Qwen2.5-VL chat template pieces (confirmed: the template shipped with Qwen2.5-VL-Instruct).
    public static let systemTurnStart = "<|im_start|>system\n"
    /// Ends the system turn and opens the user turn.
    public static let userTurnStart = "<|im_end|>\n<|im_start|>user\n"
    /// Ends the user turn and adds the generation prompt; the score is read at its last token (`\n`).
    public static let assistantTurnStart = "<|im_end|>\n<|im_start|>assistant\n"

    /// Opens an image block.
    public static let visionStart = "<|vision_start|>"
    /// The single placeholder the template writes per image.
    public static let imagePad = "<|image_pad|>"
    /// Closes an image block.
    public static let visionEnd = "<|vision_end|>"
    /// Marker strings a user text must not contain: the tokenizer would parse them as vision tokens and
    /// break the image blocks.
    public static let reservedVisionMarkers = [
        "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>", "<|vision_pad|>",
    ]

    /// The first of ``reservedVisionMarkers`` in `text` (by position), matched byte for byte as the tokenizer
    /// would: one pass over the UTF-8, where Foundation's `contains` searched the whole text in UTF-16 once per
    /// marker (8% of a text-heavy server's CPU).
    public static func reservedVisionMarker(in text: String) -> String? {
        var text = text
        return text.withUTF8 { bytes -> String? in
            let open = UInt8(ascii: "<"), bar = UInt8(ascii: "|")
            var index = 0
            while index + 1 < bytes.count {
                if bytes[index] == open, bytes[index + 1] == bar {
                    for (marker, utf8) in reservedMarkerBytes where index + utf8.count <= bytes.count {
                        if utf8.indices.allSatisfy({ bytes[index + $0] == utf8[$0] }) { return marker }
                    }
                }
                index += 1
            }
            return nil
        }
    }

    private static let reservedMarkerBytes = reservedVisionMarkers.map { ($0, Array($0.utf8)) }

    /// Training max length in tokens; prompts longer than this are truncated (document text only).
    public static let maxLength = 3200

    /// The answer token whose logit counts for relevance (id 9693 in Qwen2 vocabularies).
    public static let yesToken = "yes"
    /// The answer token whose logit counts against relevance (id 2152 in Qwen2 vocabularies).
    public static let noToken = "no"
}
