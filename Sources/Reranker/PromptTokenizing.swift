/// What the prompt builder needs from a tokenizer.
///
/// `encode` must behave like Hugging Face `tokenizer.encode(text, add_special_tokens=False)`: added and
/// special tokens written in the text (`<|im_start|>`, `<|image_pad|>`, ...) become their single ids, the
/// rest goes through normalizer, pre-tokenizer and BPE. The `Tokenizers` module's `Tokenizer` conforms.
public protocol PromptTokenizing: Sendable {
    /// Token ids of `text`, special tokens parsed, nothing added around it.
    func encode(_ text: String) -> [Int32]
    /// The id of a vocabulary or added token written exactly as `token`, or nil when there is none.
    func tokenID(_ token: String) -> Int32?
}
