extension Tokenizer {
    /// The added tokens (`<|im_start|>`, `<|image_pad|>`, ...) with their ids, in the file's order.
    public var addedTokenIDs: [(token: String, id: Int32)] {
        addedTokens.tokens.map { ($0.content, $0.id) }
    }

    /// The largest id of the BPE vocabulary, added tokens aside (-1 for an empty vocabulary).
    public var largestVocabularyID: Int32 {
        model.vocabulary.values.max() ?? -1
    }
}
