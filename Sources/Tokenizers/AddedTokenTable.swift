/// The `added_tokens` of a tokenizer, with their ids and the two matchers `tokenizers` uses: one for tokens
/// matched in the raw text (`normalized: false`, all of Qwen's) and one for tokens matched after normalization.
struct AddedTokenTable: Sendable {
    let tokens: [AddedToken]
    let idByContent: [String: Int32]
    let rawMatcher: AddedTokenMatcher
    /// Nil when no added token is `normalized`.
    let normalizedMatcher: AddedTokenMatcher?

    /// Gives ids as `tokenizers` does (the vocabulary id when the content is in it, else the next id after the
    /// vocabulary, in file order) and refuses files whose declared ids disagree, rather than guessing.
    init(
        entries: [AddedTokenEntry], vocabulary: [String: Int32], normalizer: (any TextNormalizer)?
    ) throws(TokenizerError) {
        var tokens: [AddedToken] = []
        var idByContent: [String: Int32] = [:]
        var nextID = vocabulary.count
        for entry in entries where !entry.content.isEmpty {
            guard idByContent[entry.content] == nil else {
                throw .addedTokenConflict(token: entry.content, reason: "listed twice; keep one entry")
            }
            let id: Int
            if let existing = vocabulary[entry.content] {
                id = Int(existing)
            } else {
                id = nextID
                nextID += 1
            }
            guard entry.id == id else {
                throw .addedTokenConflict(
                    token: entry.content,
                    reason: "declared id \(entry.id), but the tokenizers library gives it id \(id) (added tokens "
                        + "take their vocabulary id, or the ids after the vocabulary in file order)")
            }
            guard id < maximumTokenID else { throw .invalidTokenID(token: entry.content, id: id) }
            let token = AddedToken(
                id: Int32(id), content: entry.content, singleWord: entry.singleWord, lstrip: entry.lstrip,
                rstrip: entry.rstrip, normalized: entry.normalized, special: entry.special)
            tokens.append(token)
            idByContent[entry.content] = token.id
        }
        self.tokens = tokens
        self.idByContent = idByContent

        let raw = tokens.filter { !$0.normalized }
        rawMatcher = AddedTokenMatcher(tokens: raw, patterns: raw.map { Array($0.content.utf8) })
        let normalized = tokens.filter(\.normalized)
        if normalized.isEmpty {
            normalizedMatcher = nil
        } else {
            let patterns = normalized.map { token -> [UInt8] in
                var content = Array(token.content.utf8)
                if let changed = content.withUnsafeBufferPointer({ normalizer?.normalize($0) }) { content = changed }
                return content
            }
            normalizedMatcher = AddedTokenMatcher(tokens: normalized, patterns: patterns)
        }
    }
}

/// Per-id data for decoding: the bytes the `ByteLevel` decoder gives each token, and which ids are special.
struct DecodeTable: Sendable {
    private enum Kind: UInt8 { case unknown, regular, special }

    /// Bytes of id `k`: `bytes[offsets[k]..<offsets[k + 1]]`.
    private let bytes: [UInt8]
    private let offsets: [Int]
    private let kinds: [Kind]
    private let texts: [String?]
    let distinctTokenCount: Int

    init(vocabulary: [String: Int32], addedTokens: [AddedToken]) {
        let largestID = max(vocabulary.values.max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        var texts = [String?](repeating: nil, count: Int(largestID) + 1)
        for (token, id) in vocabulary { texts[Int(id)] = token }
        for token in addedTokens { texts[Int(token.id)] = token.content }  // added tokens win, as in `tokenizers`
        let specialContents = Set(addedTokens.filter(\.special).map(\.content))

        var bytes: [UInt8] = []
        var offsets = [0]
        var kinds: [Kind] = []
        offsets.reserveCapacity(texts.count + 1)
        kinds.reserveCapacity(texts.count)
        for text in texts {
            if let text {
                bytes.append(contentsOf: ByteLevelAlphabet.decodedBytes(of: text))
                kinds.append(specialContents.contains(text) ? .special : .regular)
            } else {
                kinds.append(.unknown)
            }
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
        self.kinds = kinds
        self.texts = texts
        distinctTokenCount = vocabulary.count + Set(addedTokens.map(\.content)).subtracting(vocabulary.keys).count
    }

    func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < texts.count else { return nil }
        return texts[Int(id)]
    }

    /// The concatenated bytes of `ids`, skipping unknown ids (and special ones when asked).
    func bytes(of ids: [Int32], skipSpecialTokens: Bool) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, Int(id) < kinds.count else { continue }
            switch kinds[Int(id)] {
            case .unknown: continue
            case .special where skipSpecialTokens: continue
            default: result.append(contentsOf: bytes[offsets[Int(id)]..<offsets[Int(id) + 1]])
            }
        }
        return result
    }
}
