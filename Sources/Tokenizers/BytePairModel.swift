/// The BPE `model` of a byte-level tokenizer: vocabulary, merges, and the merge loop over one word.
///
/// Words are handled as raw bytes: each byte starts as the id of its byte-level character, and pairs of ids are
/// merged through `PairTable`, so no strings are built while encoding.
struct BytePairModel: Sendable {
    /// Byte-level token text -> id.
    let vocabulary: [String: Int32]
    /// `byteSymbols[b]`: the id of the one-character token for byte `b`, or -1 when the vocabulary lacks it
    /// (such bytes are dropped, as `tokenizers` does when there is no `unk_token`).
    let byteSymbols: [Int32]
    let merges: PairTable
    /// `mergeResults[rank]`: the id the merge of that rank produces.
    let mergeResults: [Int32]
    /// `ignore_merges`: a word that is itself a vocabulary token is emitted whole, without merging.
    let ignoresMerges: Bool

    init(_ configuration: ModelConfiguration) throws(TokenizerError) {
        try Self.checkSettings(configuration)
        var vocabulary = [String: Int32](minimumCapacity: configuration.vocab.count)
        for (token, id) in configuration.vocab {
            guard id >= 0 && id < maximumTokenID else { throw .invalidTokenID(token: token, id: id) }
            vocabulary[token] = Int32(id)
        }
        self.vocabulary = vocabulary
        byteSymbols = ByteLevelAlphabet.characters.map { vocabulary[String($0)] ?? -1 }
        if configuration.unkToken != nil, byteSymbols.contains(-1) {
            throw .unsupportedSetting(
                stage: "model", setting: "unk_token", value: configuration.unkToken ?? "",
                expected: "null, or a vocabulary holding all 256 byte-level characters")
        }
        (merges, mergeResults) = try Self.buildMerges(configuration.merges, vocabulary: vocabulary)
        ignoresMerges = configuration.ignoreMerges
    }

    private static func checkSettings(_ configuration: ModelConfiguration) throws(TokenizerError) {
        if let dropout = configuration.dropout, dropout != 0 {
            throw .unsupportedSetting(stage: "model", setting: "dropout", value: "\(dropout)", expected: "null")
        }
        if configuration.byteFallback {
            throw .unsupportedSetting(stage: "model", setting: "byte_fallback", value: "true", expected: "false")
        }
        if let prefix = configuration.continuingSubwordPrefix, !prefix.isEmpty {
            throw .unsupportedSetting(
                stage: "model", setting: "continuing_subword_prefix", value: prefix, expected: "null or \"\"")
        }
        if let suffix = configuration.endOfWordSuffix, !suffix.isEmpty {
            throw .unsupportedSetting(
                stage: "model", setting: "end_of_word_suffix", value: suffix, expected: "null or \"\"")
        }
    }

    /// Merge ranks follow list order (`#version` lines skipped, as in `tokenizers`); a repeated pair keeps its
    /// last rank. Every part and every concatenation must be in the vocabulary.
    private static func buildMerges(
        _ entries: [MergeEntry], vocabulary: [String: Int32]
    ) throws(TokenizerError) -> (PairTable, [Int32]) {
        var table = PairTable(capacity: entries.count)
        var results: [Int32] = []
        results.reserveCapacity(entries.count)
        for entry in entries {
            let rank = results.count
            let left: String
            let right: String
            switch entry {
            case .line(let line):
                if line.hasPrefix("#version") { continue }
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .malformedMerge(rank: rank, merge: line) }
                (left, right) = (String(parts[0]), String(parts[1]))
            case .pair(let pair):
                guard pair.count == 2 else {
                    throw .malformedMerge(rank: rank, merge: "[" + pair.joined(separator: ", ") + "]")
                }
                (left, right) = (pair[0], pair[1])
            }
            guard let leftID = vocabulary[left] else { throw .mergeTokenNotInVocabulary(rank: rank, token: left) }
            guard let rightID = vocabulary[right] else {
                throw .mergeTokenNotInVocabulary(rank: rank, token: right)
            }
            guard let resultID = vocabulary[left + right] else {
                throw .mergeTokenNotInVocabulary(rank: rank, token: left + right)
            }
            table.insert(left: leftID, right: rightID, rank: Int32(rank), result: resultID)
            results.append(resultID)
        }
        return (table, results)
    }

    /// Appends the ids of one word (the bytes of one pre-tokenized piece).
    func encode(word: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch: inout MergeScratch) {
        if ignoresMerges, let id = vocabulary[ByteLevelAlphabet.text(of: word)] {
            ids.append(id)
            return
        }
        scratch.load(word, byteSymbols: byteSymbols)
        switch scratch.ids.count {
        case 0: return
        case 1: ids.append(scratch.ids[0])
        default:
            scratch.mergeAll(merges: merges, mergeResults: mergeResults)
            scratch.appendSurvivors(to: &ids)
        }
    }
}
