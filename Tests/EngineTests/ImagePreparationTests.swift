import CPUBackend
import Foundation
import ImageProcessing
import TestSupport
import Testing

@testable import Reranker

/// Images shown by several requests in flight at once are decoded and resized once (``ImagePreparations``).
@Suite("Image preparation shared by requests in flight")
struct ImagePreparationTests {
    static func load(maxRequestPixels: Int = 1 << 28) throws -> Reranker {
        try ServingEngineTests.load(maxRequestPixels: maxRequestPixels)
    }

    static func image(_ name: String) -> RerankImage { ServingEngineTests.image(name) }

    @Test("an image two requests in flight show is decoded once, and scores as if each had decoded it")
    func heldImageIsShared() throws {
        let reranker = try Self.load()
        let photo = RerankItem(text: "a photo", image: Self.image("photo-b.png"))
        let first = try reranker.preparePairs(query: RerankItem(text: "first"), documents: [photo])
        // The second request shows it twice, and once more as its query.
        let second = try reranker.preparePairs(
            query: RerankItem(text: "second", image: Self.image("photo-b.png")), documents: [photo, photo])
        #expect(reranker.imagePreparations.snapshot() == .init(decoded: 1, shared: 3))
        let decoded = try #require(first[0].documentImage?.decoded)
        #expect(second.allSatisfy { $0.documentImage?.decoded === decoded && $0.queryImage?.decoded === decoded })
        let scores = try reranker.scorePairs(first) + reranker.scorePairs(second)
        // The same requests one after the other on another reranker: each decodes the image itself.
        let reference = try Self.load()
        let want =
            try reference.scorePairs(try reference.preparePairs(query: RerankItem(text: "first"), documents: [photo]))
            + reference.scorePairs(
                try reference.preparePairs(
                    query: RerankItem(text: "second", image: Self.image("photo-b.png")), documents: [photo, photo]))
        #expect(scores.count == 3)
        for (got, expected) in zip(scores, want) { #expect(abs(got.logit - expected.logit) < 1e-6) }
        #expect(reference.imagePreparations.snapshot().decoded == 2)
    }

    @Test("an image no request holds any more is decoded again (the table keeps nothing of its own)")
    func releasedImageIsNotKept() throws {
        let reranker = try Self.load()
        let photo = RerankItem(image: Self.image("photo-c.jpg"))
        for round in 1...3 {
            _ = try reranker.preparePairs(query: RerankItem(text: "q"), documents: [photo])
            #expect(reranker.imagePreparations.snapshot() == .init(decoded: round, shared: 0))
        }
    }

    @Test("concurrent requests showing one new image: one decodes it, the others wait and take it")
    func concurrentRequestsDecodeOnce() throws {
        let reranker = try Self.load()
        let photo = RerankItem(image: Self.image("photo-a.png"))
        let outcomes = concurrentResults(count: 8) { index in
            try reranker.preparePairs(query: RerankItem(text: "query \(index)"), documents: [photo, photo])
        }
        let pairs = try outcomes.flatMap { try $0.get() }  // every request's images held until here
        #expect(pairs.count == 16)
        #expect(reranker.imagePreparations.snapshot() == .init(decoded: 1, shared: 15))
    }

    @Test("a corrupt image fails every request that shows it with its own error, and leaves nothing waiting")
    func failedDecodingIsNotShared() throws {
        let reranker = try Self.load()
        let corrupt = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID()).png")
        var bytes = try Data(contentsOf: Fixtures.url("checkpoints/images/photo-a.png"))
        bytes.replaceSubrange(200..<bytes.count - 20, with: Data(repeating: 0x5a, count: bytes.count - 220))
        try bytes.write(to: corrupt)
        defer { try? FileManager.default.removeItem(at: corrupt) }
        let outcomes = concurrentResults(count: 6) { index in
            try reranker.preparePairs(
                query: RerankItem(text: "query \(index)"),
                documents: [RerankItem(text: "fine"), RerankItem(image: .file(corrupt))])
        }
        for outcome in outcomes {
            #expect(throws: RerankerError.self) { try outcome.get() }
            if case .failure(let error) = outcome {
                #expect("\(error)".contains("document 1"))
                #expect("\(error)".contains(corrupt.lastPathComponent))
            }
        }
        #expect(reranker.imagePreparations.snapshot().decoded == 0)
        #expect(reranker.imagePreparations.slotCount == 0)
        // The same key with good bytes is not possible, but the table takes new images as before.
        _ = try reranker.preparePairs(
            query: RerankItem(text: "q"), documents: [RerankItem(image: Self.image("photo-b.png"))])
        #expect(reranker.imagePreparations.snapshot().decoded == 1)
    }

    @Test("an image taken from another request still counts against the request's pixel cap")
    func sharedImageSpendsTheAllowance() throws {
        // photo-b is 250 x 190 = 47,500 pixels: twice is over a 90,000-pixel cap.
        let reranker = try Self.load(maxRequestPixels: 90_000)
        let photo = RerankItem(image: Self.image("photo-b.png"))
        let held = try reranker.preparePairs(query: RerankItem(text: "first"), documents: [photo])
        let error = #expect(throws: RerankerError.self) {
            _ = try reranker.preparePairs(query: RerankItem(text: "second"), documents: [photo, photo])
        }
        #expect("\(String(describing: error))".contains("per-request limit"))
        #expect(held.count == 1)
        #expect(reranker.imagePreparations.snapshot().decoded == 1)
    }

    @Test("slots of images every request let go of are removed as new images come")
    func releasedSlotsAreSwept() throws {
        let reranker = try Self.load()
        for index in 0..<200 {
            var pixels = [UInt8](repeating: 0, count: 56 * 56 * 3)
            pixels[0] = UInt8(index & 0xff)
            pixels[1] = UInt8(index >> 8)
            let image = RerankItem(image: .decoded(try RGBImage(width: 56, height: 56, pixels: pixels)))
            _ = try reranker.preparePairs(query: RerankItem(text: "q"), documents: [image])
        }
        #expect(reranker.imagePreparations.snapshot().decoded == 200)
        #expect(reranker.imagePreparations.slotCount <= 64)
    }
}
