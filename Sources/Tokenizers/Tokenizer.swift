import Foundation
import RegularFiles

/// A Qwen2 byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json`, encoding and decoding exactly as
/// the `tokenizers` library does: added tokens are cut out first, the rest goes through NFC, the Qwen2 split
/// pattern, byte-level BPE; decoding maps ids back to bytes and reads them as UTF-8.
///
/// Immutable after loading (apart from an internal cache of word encodings), so one instance can serve many
/// threads at once.
public final class Tokenizer: Sendable {
    let model: BytePairModel
    let normalizer: (any TextNormalizer)?
    let preTokenizer: PreTokenizer
    let addedTokens: AddedTokenTable
    let decodeTable: DecodeTable
    let cache: WordCache?

    /// Total number of distinct tokens: the model's vocabulary plus the added tokens not already in it
    /// (`get_vocab_size(with_added_tokens=True)`; 151,665 for Qwen2.5-VL).
    public var vocabularySize: Int { decodeTable.distinctTokenCount }

    /// Loads `tokenizer.json` from `url`: the file itself, or a directory (such as a model directory) holding one.
    public convenience init(contentsOf url: URL) throws {
        try self.init(contentsOf: url, wordCacheCapacity: Self.defaultCacheCapacity)
    }

    /// Loads `tokenizer.json` from `url` with a word cache of `wordCacheCapacity` entries (0: no cache).
    package convenience init(contentsOf url: URL, wordCacheCapacity: Int) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw TokenizerError.fileNotFound(path: url.path)
        }
        let file = isDirectory.boolValue ? url.appendingPathComponent("tokenizer.json") : url
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw TokenizerError.fileNotFound(path: file.path)
        }
        let data: Data
        do {
            data = try RegularFile.contents(of: file)
        } catch {
            throw TokenizerError.unreadableFile(path: file.path, reason: error.reason)
        }
        try self.init(data: data, path: file.path, wordCacheCapacity: wordCacheCapacity)
    }

    /// Loads a tokenizer from the bytes of a `tokenizer.json`.
    public convenience init(data: Data) throws {
        try self.init(data: data, path: nil, wordCacheCapacity: Self.defaultCacheCapacity)
    }

    /// Loads a tokenizer with a word cache of `wordCacheCapacity` entries (0: no cache); for benchmarks.
    package convenience init(data: Data, wordCacheCapacity: Int) throws {
        try self.init(data: data, path: nil, wordCacheCapacity: wordCacheCapacity)
    }

    static let defaultCacheCapacity = 10_000

    init(data: Data, path: String?, wordCacheCapacity: Int) throws(TokenizerError) {
        let file = try TokenizerFile.decode(data, path: path)
        model = try BytePairModel(file.model)
        normalizer = try makeNormalizer(file.normalizer)
        preTokenizer = try makePreTokenizer(file.preTokenizer)
        guard let decoder = file.decoder, decoder.type == "ByteLevel" else {
            throw .unsupportedComponent(stage: "decoder", type: file.decoder?.type ?? "null", supported: ["ByteLevel"])
        }
        addedTokens = try AddedTokenTable(
            entries: file.addedTokens, vocabulary: model.vocabulary, normalizer: normalizer)
        decodeTable = DecodeTable(vocabulary: model.vocabulary, addedTokens: addedTokens.tokens)
        cache = wordCacheCapacity > 0 ? WordCache(capacity: wordCacheCapacity) : nil
    }

    /// The ids of `text`, like `tokenizer.encode(text, add_special_tokens=False).ids` in `tokenizers`: added
    /// tokens written in the text (`<|im_start|>`, ...) become their ids; nothing is added around the text.
    public func encode(_ text: String) -> [Int32] {
        var text = text
        return text.withUTF8 { encode(utf8: $0) }
    }

    /// The ids of UTF-8 text (which must be valid UTF-8).
    func encode(utf8: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(utf8.count / 3 + 4)
        var scratch = EncodeScratch()
        for segment in addedTokens.rawMatcher.segments(utf8) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range): encodePlain(UnsafeBufferPointer(rebasing: utf8[range]), &ids, &scratch)
            }
        }
        return ids
    }

    /// Text between raw-matched added tokens: normalize, cut out normalized added tokens, split, merge.
    private func encodePlain(_ utf8: UnsafeBufferPointer<UInt8>, _ ids: inout [Int32], _ scratch: inout EncodeScratch) {
        if let normalized = normalizer?.normalize(utf8) {
            normalized.withUnsafeBufferPointer { encodeNormalized($0, &ids, &scratch) }
        } else {
            encodeNormalized(utf8, &ids, &scratch)
        }
    }

    private func encodeNormalized(
        _ utf8: UnsafeBufferPointer<UInt8>, _ ids: inout [Int32], _ scratch: inout EncodeScratch
    ) {
        guard let matcher = addedTokens.normalizedMatcher else {
            encodeWords(utf8, &ids, &scratch)
            return
        }
        for segment in matcher.segments(utf8) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let range): encodeWords(UnsafeBufferPointer(rebasing: utf8[range]), &ids, &scratch)
            }
        }
    }

    private func encodeWords(_ utf8: UnsafeBufferPointer<UInt8>, _ ids: inout [Int32], _ scratch: inout EncodeScratch) {
        scratch.pieces.removeAll(keepingCapacity: true)
        preTokenizer.split(utf8, into: &scratch.pieces, scratch: &scratch.split)
        // The cache is bound once for all the words: binding it per word retained and released the one shared
        // object on every core for every word (on 16 threads, a warm cache encoded at a third of the rate of none).
        guard let cache else {
            for piece in scratch.pieces {
                model.encode(word: UnsafeBufferPointer(rebasing: utf8[piece]), into: &ids, scratch: &scratch.merge)
            }
            return
        }
        for piece in scratch.pieces {
            let word = UnsafeBufferPointer(rebasing: utf8[piece])
            guard let key = WordCache.Key(word) else {
                model.encode(word: word, into: &ids, scratch: &scratch.merge)
                continue
            }
            if let cached = cache.lookup(key) {
                cached.append(to: &ids)
                continue
            }
            let start = ids.count
            model.encode(word: word, into: &ids, scratch: &scratch.merge)
            cache.insert(ids[start...], for: key)
        }
    }

    /// The text of `ids`, like `tokenizer.decode(ids, skip_special_tokens=...)` in `tokenizers`: each token's
    /// bytes are joined and read as UTF-8, an invalid or cut sequence becoming U+FFFD. Unknown ids are skipped;
    /// with `skipSpecialTokens`, so are added tokens marked `special` (`<|im_start|>`, but not `<tool_call>`).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        String(decoding: decodeTable.bytes(of: ids, skipSpecialTokens: skipSpecialTokens), as: UTF8.self)
    }

    /// The id of `token`, an added token's content or a vocabulary entry in byte-level form (`"Ġworld"`).
    public func tokenID(_ token: String) -> Int32? {
        addedTokens.idByContent[token] ?? model.vocabulary[token]
    }

    /// The token with id `id`: an added token's content, or a vocabulary entry in byte-level form.
    public func token(for id: Int32) -> String? {
        decodeTable.token(for: id)
    }
}

/// Buffers reused across the words of one `encode` call.
struct EncodeScratch {
    var pieces: [Range<Int>] = []
    var split = SplitScratch()
    var merge = MergeScratch()
}
