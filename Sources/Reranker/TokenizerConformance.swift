import Tokenizers

/// The real tokenizer is what the prompt builder encodes with.
extension Tokenizer: PromptTokenizing {}
