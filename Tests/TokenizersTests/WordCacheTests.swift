import Testing

@testable import Tokenizers

@Suite("Word cache: inline entries, lookups without locks")
struct WordCacheTests {
    static func key(_ word: String) -> WordCache.Key? {
        Array(word.utf8).withUnsafeBufferPointer { WordCache.Key($0) }
    }

    @Test("an entry holds up to six ids and gives them back in order")
    func entries() throws {
        var output: [Int32] = [7]
        try #require(WordCache.Entry([1, 2, 3][...])).append(to: &output)
        #expect(output == [7, 1, 2, 3])
        try #require(WordCache.Entry([][...])).append(to: &output)
        #expect(output == [7, 1, 2, 3])
        let six: [Int32] = [151_643, 0, -1, 5, 9693, 2152]
        output = []
        try #require(WordCache.Entry(six[...])).append(to: &output)
        #expect(output == six)
        #expect(WordCache.Entry([1, 2, 3, 4, 5, 6, 7][...]) == nil)
    }

    @Test("a word is found after it is inserted, once; the cache stops taking words when full")
    func lookupAndCapacity() throws {
        let cache = WordCache(capacity: 100)
        let the = try #require(Self.key("the")), of = try #require(Self.key("of"))
        #expect(cache.lookup(the) == nil)
        cache.insert([785][...], for: the)
        cache.insert([1][...], for: the)  // already there: the first ids stay
        var output: [Int32] = []
        try #require(cache.lookup(the)).append(to: &output)
        #expect(output == [785])
        cache.insert([1, 2, 3, 4, 5, 6, 7][...], for: of)  // too many ids: not kept
        #expect(cache.lookup(of) == nil)
        #expect(cache.count == 1)
        #expect(Self.key(String(repeating: "x", count: 17)) == nil)
        // 300 words into room for 100: the first 99 more are kept, each with its own ids; the rest are not.
        for index in 0..<300 { cache.insert([Int32(index), -1][...], for: try #require(Self.key("w\(index)"))) }
        #expect(cache.count == 100)
        for index in 0..<300 {
            let entry = cache.lookup(try #require(Self.key("w\(index)")))
            #expect((entry != nil) == (index < 99), "w\(index)")
            var ids: [Int32] = []
            entry?.append(to: &ids)
            if index < 99 { #expect(ids == [Int32(index), -1]) }
        }
        // Keys that differ only in their length or their second half are different words.
        let a = try #require(Self.key("abcdefgh")), b = try #require(Self.key("abcdefgh\u{0}"))
        let c = try #require(Self.key("abcdefghij")), d = try #require(Self.key("abcdefghik"))
        let small = WordCache(capacity: 10)
        for (index, key) in [a, b, c, d].enumerated() { small.insert([Int32(index)][...], for: key) }
        for (index, key) in [a, b, c, d].enumerated() {
            var ids: [Int32] = []
            try #require(small.lookup(key)).append(to: &ids)
            #expect(ids == [Int32(index)])
        }
    }

    @Test("words inserted and looked up from many threads at once: every hit has its own word's ids")
    func concurrentInsertsAndLookups() async throws {
        let cache = WordCache(capacity: 4000)
        let words = (0..<3000).map { "t\($0 % 1500)" }
        let wrong = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var wrong = 0
                    for (position, word) in words.enumerated() where (position + worker) % 3 != 0 {
                        guard let key = Self.key(word) else { return -1 }
                        let number = Int32(word.dropFirst())!
                        if let entry = cache.lookup(key) {
                            var ids: [Int32] = []
                            entry.append(to: &ids)
                            if ids != [number, number &* 7] { wrong += 1 }
                        } else {
                            cache.insert([number, number &* 7][...], for: key)
                        }
                    }
                    return wrong
                }
            }
            return await group.reduce(0, +)
        }
        #expect(wrong == 0)
        // Every word was inserted by some worker (a race may store a word twice; lookups find the first).
        for number in 0..<1500 {
            let key = try #require(Self.key("t\(number)"))
            var ids: [Int32] = []
            try #require(cache.lookup(key)).append(to: &ids)
            #expect(ids == [Int32(number), Int32(number) &* 7])
        }
    }

    @Test("short words of many tokens (not cached) and of few (cached) encode as without the cache, twice")
    func longEncodings() throws {
        let cached = try Tokenizer(data: TokenizerFixtures.tokenizerJSON)
        let uncached = try Tokenizer(data: TokenizerFixtures.tokenizerJSON, wordCacheCapacity: 0)
        let texts = [
            "\u{1F600}\u{1F9EA}\u{1F52C}\u{1FAE0}", "\u{1FAE8}\u{1FA7B}\u{1F9CC}\u{1FAAD}", "𝔘𝔫𝔦𝔠", "ꙮꙮꙮꙮꙮ",
            " zqxjvkwp", " the the", "ĞĢĦĨ",
        ]
        for text in texts {
            let want = uncached.encode(text)
            #expect(cached.encode(text) == want, "\(text)")
            #expect(cached.encode(text) == want, "\(text), from the cache")
        }
        // At least one of them is a word of at most 16 bytes with more ids than an entry holds: not cached.
        #expect(texts.contains { $0.utf8.count <= 16 && uncached.encode($0).count > WordCache.Entry.capacity })
    }
}
