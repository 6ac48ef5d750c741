import CPUBackend
import Foundation
import Qwen25VL
import TensorKit
import TestSupport
import Testing

@testable import Reranker

/// The pieces the server's continuous batching rests on: packing pairs of several requests into one pass,
/// the one batching policy, the image cache, the per-request pixel cap.
@Suite("Serving engine: packing, planning, image cache")
struct ServingEngineTests {
    static func load(imageCacheBytes: Int = 0, prefixCacheBytes: Int = 0, maxRequestPixels: Int = 1 << 28) throws
        -> Reranker
    {
        var options = RerankerOptions(
            tokenBudget: 4096, imageCacheBytes: imageCacheBytes, prefixCacheBytes: prefixCacheBytes)
        options.maxRequestDecodedPixels = maxRequestPixels
        return try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(), options: options)
    }

    static func image(_ name: String) -> RerankImage { .file(Fixtures.url("checkpoints/images/\(name)")) }

    @Test("pairs of three requests: one prefix per query, each image once, results mapped back")
    func packing() throws {
        let reranker = try Self.load()
        let textA = try reranker.preparePairs(
            query: RerankItem(text: "red bicycle"), documents: (0..<3).map { RerankItem(text: "document \($0)") })
        let imageQuery = try reranker.preparePairs(
            query: RerankItem(text: "like this", image: Self.image("photo-a.png")),
            documents: [RerankItem(text: "first"), RerankItem(text: "second", image: Self.image("photo-b.png"))])
        let single = try reranker.preparePairs(query: RerankItem(text: "alone"), documents: [RerankItem(text: "x")])
        #expect(textA.allSatisfy { $0.sharedPrefixLength > 0 })
        #expect(single[0].sharedPrefixLength == 0)

        // Interleaved, as a scheduler takes them.
        let pairs = [textA[0], imageQuery[0], single[0], textA[1], imageQuery[1], textA[2]]
        let packed = try BatchPacking.pack(pairs)
        // Three prefix sequences (the text query's; the image query's up to the end of its image, the cache
        // point, and its words after it) and six scored sequences.
        #expect(packed.input.batch.sequenceCount == 9)
        #expect(packed.input.batch.scoredRows.count == 6)
        // The query image and one document image, each listed once.
        #expect(packed.input.images.count == 2)
        // Grouped by query in order of first appearance, each position once.
        #expect(packed.order == [0, 3, 5, 1, 4, 2])
        // Every image row of every pad token is filled exactly once.
        let padID = Int32(reranker.configuration.imageTokenId)
        let padRows = packed.input.batch.tokenIDs.indices.filter { packed.input.batch.tokenIDs[$0] == padID }
        let filled = packed.input.splices.flatMap(\.destinationRows).map(Int.init).sorted()
        #expect(filled == padRows)
    }

    @Test("a pass of several requests scores each pair as the pair's own request does")
    func mixedPassMatchesAlone() throws {
        let reranker = try Self.load()
        let first = (
            RerankItem(text: "like this", image: Self.image("photo-a.png")),
            [RerankItem(text: "a photo"), RerankItem(text: "", image: Self.image("photo-c.jpg"))]
        )
        let second = (RerankItem(text: "a bicycle"), [RerankItem(text: "wheels"), RerankItem(text: "a fish")])
        let aloneFirst = try reranker.score(query: first.0, documents: first.1)
        let aloneSecond = try reranker.score(query: second.0, documents: second.1)
        let pairsFirst = try reranker.preparePairs(query: first.0, documents: first.1)
        let pairsSecond = try reranker.preparePairs(query: second.0, documents: second.1)
        let mixed = try reranker.scorePairs([pairsSecond[1], pairsFirst[0], pairsSecond[0], pairsFirst[1]])
        for (result, reference) in zip(mixed, [aloneSecond[1], aloneFirst[0], aloneSecond[0], aloneFirst[1]]) {
            #expect(result.index == reference.index)
            #expect(abs(result.logit - reference.logit) < 1e-4)
        }
    }

    @Test("an image seen again skips decoding and the vision tower, with the same scores")
    func imageCacheIsExact() throws {
        let reranker = try Self.load(imageCacheBytes: 64 << 20)
        let query = RerankItem(text: "like this", image: Self.image("photo-a.png"))
        let documents = [RerankItem(text: "one"), RerankItem(text: "two", image: Self.image("photo-b.png"))]
        let cold = try reranker.score(query: query, documents: documents)
        #expect(reranker.imageCache.snapshot().entries == 2)
        let warmPairs = try reranker.preparePairs(query: query, documents: documents)
        for image in [warmPairs[0].queryImage, warmPairs[1].documentImage] {
            guard case .embeddings = try #require(image).content else {
                Issue.record("a cached image was decoded again")
                continue
            }
        }
        let warm = try reranker.scorePairs(warmPairs)
        for (a, b) in zip(cold, warm) { #expect(abs(a.logit - b.logit) < 1e-6) }
        #expect(reranker.imageCache.snapshot().hits >= 2)
    }

    @Test("a pass leaves its images' cache entries for later: the cache gets them from cacheEmbeddedImages()")
    func imageCacheEntriesWaitForTheHandOver() throws {
        let reranker = try Self.load(imageCacheBytes: 64 << 20)
        let query = RerankItem(text: "like this", image: Self.image("photo-a.png"))
        let documents = [RerankItem(text: "one", image: Self.image("photo-b.png"))]
        let pairs = try reranker.preparePairs(query: query, documents: documents)
        let scores = try reranker.scorePairs(pairs)
        // The answer is there; the rows are still on the device (no copy the request waited for).
        #expect(reranker.imageCache.snapshot().entries == 0)
        #expect(try reranker.cacheEmbeddedImages() == 2)
        #expect(reranker.imageCache.snapshot().entries == 2)
        #expect(try reranker.cacheEmbeddedImages() == 0)
        // Images embedded ahead wait the same way; the pass uses their rows from the device.
        let again = try reranker.preparePairs(query: query, documents: documents)
        #expect(try reranker.embedAhead(again.compactMap(\.documentImage)) == 0)  // cached: nothing to embed
        let fresh = try reranker.preparePairs(
            query: RerankItem(text: "q"), documents: [RerankItem(image: Self.image("photo-c.jpg"))])
        #expect(try reranker.embedAhead(fresh.compactMap(\.documentImage)) == 1)
        #expect(reranker.imageCache.snapshot().entries == 2)
        #expect(try reranker.cacheEmbeddedImages() == 1)
        #expect(reranker.imageCache.snapshot().entries == 3)
        // The cached rows give the scores the pass gave.
        let warm = try reranker.scorePairs(try reranker.preparePairs(query: query, documents: documents))
        for (a, b) in zip(scores, warm) { #expect(abs(a.logit - b.logit) < 1e-6) }
    }

    @Test("an image a pass embedded is not embedded again by a request that sent it before the hand-over")
    func pendingImagesAreNotEmbeddedTwice() throws {
        let reranker = try Self.load(imageCacheBytes: 64 << 20)
        let photo = RerankItem(text: "a photo", image: Self.image("photo-b.png"))
        _ = try reranker.scorePairs(try reranker.preparePairs(query: RerankItem(text: "first"), documents: [photo]))
        #expect(reranker.pendingCacheEntries.count == 1)  // answered, not handed over yet
        #expect(reranker.imagesEmbedded == 1)
        // A second request with the same image, prepared before the hand-over: the image is new to it.
        let second = try reranker.preparePairs(query: RerankItem(text: "second"), documents: [photo])
        guard case .pixels = second[0].documentImage?.content else {
            Issue.record("the image was found in the cache before the hand-over")
            return
        }
        let scores = try reranker.scorePairs(second)
        // Its pass took the first pass's rows instead of running the vision tower again.
        #expect(reranker.imagesEmbedded == 1)
        #expect(reranker.pendingCacheEntries.count == 1)
        #expect(try reranker.cacheEmbeddedImages() == 1)
        #expect(reranker.imageCache.snapshot().entries == 1)
        let reference = try Self.load()
        let want = try reference.scorePairs(
            try reference.preparePairs(query: RerankItem(text: "second"), documents: [photo]))
        #expect(abs(scores[0].logit - want[0].logit) < 1e-6)
        // The same for an embedding ahead: nothing left to embed.
        let other = [RerankItem(image: Self.image("photo-c.jpg"))]
        _ = try reranker.scorePairs(try reranker.preparePairs(query: RerankItem(text: "third"), documents: other))
        let fourth = try reranker.preparePairs(query: RerankItem(text: "fourth"), documents: other)
        #expect(try reranker.embedAhead(fourth.compactMap(\.documentImage)) == 0)
        #expect(reranker.imagesEmbedded == 2)
        #expect(try reranker.cacheEmbeddedImages() == 1)
        #expect(reranker.imageCache.snapshot().entries == 2)
    }

    @Test("an image embedded ahead for one request serves another request's copy of it in the same pass")
    func embeddedAheadImageServesThePass() throws {
        let reranker = try Self.load()
        let photo = RerankItem(text: "a photo", image: Self.image("photo-b.png"))
        let first = try reranker.preparePairs(query: RerankItem(text: "first"), documents: [photo])
        let second = try reranker.preparePairs(query: RerankItem(text: "second"), documents: [photo])
        #expect(try reranker.embedAhead(second.compactMap(\.documentImage)) == 1)
        // The first request's copy of the image (pixels) comes first in the pass: it takes the rows on the device.
        let scores = try reranker.scorePairs(first + second)
        #expect(reranker.imagesEmbedded == 1)
        let reference = try Self.load()
        let want = try reference.scorePairs(
            try reference.preparePairs(query: RerankItem(text: "first"), documents: [photo])
                + reference.preparePairs(query: RerankItem(text: "second"), documents: [photo]))
        for (got, expected) in zip(scores, want) { #expect(abs(got.logit - expected.logit) < 1e-6) }
    }

    @Test("a prefix seen again is attended to from the cache, with the same scores", arguments: [true, false])
    func prefixCacheIsExact(imageQuery: Bool) throws {
        let plain = try Self.load()
        let cached = try Self.load(prefixCacheBytes: 256 << 20)
        // The same image (or the same words) under new words and new documents: pages of one search.
        for page in 0..<4 {
            let query =
                imageQuery
                ? RerankItem(text: "page \(page) words", image: Self.image("photo-a.png"))
                : RerankItem(text: "the same long query about red bicycles and their wheels")
            let documents =
                (0..<3).map { RerankItem(text: "page \(page) document \($0)") }
                + [RerankItem(text: "with a photo", image: Self.image("photo-b.png"))]
            let reference = try plain.score(query: query, documents: documents)
            let results = try cached.score(query: query, documents: documents)
            for (a, b) in zip(reference, results) {
                #expect(abs(a.logit - b.logit) < 1e-4, "page \(page), document \(a.index)")
            }
        }
        // Seen on page 0, stored on page 1, taken from the cache on pages 2 and 3.
        let statistics = cached.prefixCache.snapshot()
        #expect(statistics.entries == 1)
        #expect(statistics.hits >= 2)
    }

    @Test("the cache evicts the least recently used entry and never exceeds its capacity")
    func cacheEviction() throws {
        let cache = ImageEmbeddingCache(capacityBytes: 3 * 400)
        let keys = (0..<4).map { ImageKey(bytes: Data([UInt8($0)]), minPixels: 1, maxPixels: 2) }
        let grid = VisionGrid(t: 1, h: 2, w: 2)
        for key in keys.prefix(3) {
            cache.insert(key, grid: grid, embeddings: HostRows(Array(repeating: 1, count: 100)))
        }
        _ = cache.lookup(keys[0])
        cache.insert(keys[3], grid: grid, embeddings: HostRows(Array(repeating: 2, count: 100)))
        #expect(cache.lookup(keys[1]) == nil)
        #expect(cache.lookup(keys[0]) != nil)
        #expect(cache.lookup(keys[3]) != nil)
        let statistics = cache.snapshot()
        #expect(statistics.bytes <= 1200 && statistics.entries == 3 && statistics.evictions == 1)
        // Larger than the whole cache: not stored.
        cache.insert(keys[1], grid: grid, embeddings: HostRows(Array(repeating: 0, count: 1000)))
        #expect(cache.lookup(keys[1]) == nil)
        // Entries kept in bf16 (a GPU backend's rows) take half the bytes: six fit where three fp32 ones did.
        let halves = ImageEmbeddingCache(capacityBytes: 3 * 400)
        let bf16 = try HostRows(dtype: .bf16, bytes: Array(repeating: 0x3f, count: 200))
        for key in (10..<16).map({ ImageKey(bytes: Data([UInt8($0)]), minPixels: 1, maxPixels: 2) }) {
            halves.insert(key, grid: grid, embeddings: bf16)
        }
        #expect(halves.snapshot().entries == 6 && halves.snapshot().evictions == 0)
    }

    @Test("planned passes stay within the budget counting each query's prefix once, largest first")
    func planning() throws {
        let reranker = try Self.load()
        let documents = [20, 200, 5, 120, 60, 90].map { RerankItem(text: String(repeating: "word ", count: $0)) }
        let pairs = try reranker.preparePairs(query: RerankItem(text: "query"), documents: documents)
        let budget = 400
        let passes = planBatches(pairs, tokenBudget: budget)
        #expect(passes.flatMap { $0 }.sorted() == Array(pairs.indices))
        for pass in passes {
            var cost = BatchCost()
            for position in pass { cost.add(pairs[position]) }
            #expect(cost.tokens <= budget || pass.count == 1)
        }
        // The shared prefix counted once: the whole request costs less than the sum of its prompts.
        var all = BatchCost()
        for pair in pairs { all.add(pair) }
        #expect(all.tokens == pairs.reduce(0) { $0 + $1.tokenCount } - (pairs.count - 1) * pairs[0].sharedPrefixLength)
    }

    @Test("a request's images together may not decode to more than the per-request cap")
    func requestPixelCap() throws {
        // 37,632 + 47,500 + 36,000 pixels: over a 90,000-pixel cap, under it without the third image.
        let reranker = try Self.load(maxRequestPixels: 90_000)
        let query = RerankItem(text: "q", image: Self.image("photo-a.png"))
        let error = #expect(throws: RerankerError.self) {
            _ = try reranker.preparePairs(
                query: query,
                documents: [RerankItem(image: Self.image("photo-b.png")), RerankItem(image: Self.image("photo-c.jpg"))])
        }
        #expect("\(String(describing: error))".contains("per-request limit"))
        _ = try reranker.preparePairs(query: query, documents: [RerankItem(image: Self.image("photo-b.png"))])
    }
}
