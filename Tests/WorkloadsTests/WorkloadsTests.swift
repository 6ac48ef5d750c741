import Foundation
import ImageProcessing
import Reranker
import Testing
import Workloads

/// The workloads are contracts (BENCHMARK.md's tables, and the inputs the transformers reference is fed):
/// their shapes and their determinism are checked here.
@Suite("Benchmark workloads: BENCHMARK.md's shapes, the same inputs every time")
struct WorkloadsTests {
    static func words(_ text: String?) -> Int { text.map { $0.split(separator: " ").count } ?? 0 }

    static func size(_ image: RerankImage?) -> (width: Int, height: Int)? {
        guard case .decoded(let rgb) = image else { return nil }
        return (rgb.width, rgb.height)
    }

    @Test("W1-W4 hold the documents, images and text lengths of BENCHMARK.md's table")
    func offlineShapes() throws {
        let w1 = try #require(try BenchWorkload.make("W1"))
        #expect(Self.words(w1.query.text) == 32 && w1.query.image == nil)
        #expect(w1.documents.count == 100 && w1.documents.allSatisfy { Self.words($0.text) == 256 && $0.image == nil })

        let w2 = try #require(try BenchWorkload.make("W2"))
        #expect(Self.words(w2.query.text) == 32)
        #expect(w2.documents.count == 20 && w2.images.count == 20)
        #expect(w2.documents.allSatisfy { Self.size($0.image).map { $0 == (768, 512) } ?? false })

        let w3 = try #require(try BenchWorkload.make("W3"))
        #expect(Self.size(w3.query.image).map { $0 == (768, 512) } ?? false)
        #expect(w3.documents.count == 50 && w3.documents.allSatisfy { Self.words($0.text) == 128 && $0.image == nil })

        let w4 = try #require(try BenchWorkload.make("W4"))
        #expect(Self.words(w4.query.text) == 32 && w4.query.image != nil)
        #expect(w4.documents.count == 10 && w4.images.count == 11)
        #expect(w4.documents.allSatisfy { Self.words($0.text) == 64 && Self.size($0.image) != nil })
        #expect(try BenchWorkload.make("W5") == nil)
        #expect(BenchWorkload.ids == ["W1", "W2", "W3", "W4"])
    }

    @Test("a workload is the same every time it is made, and its images differ from one another")
    func deterministic() throws {
        let a = try #require(try BenchWorkload.make("W4")), b = try #require(try BenchWorkload.make("W4"))
        #expect(a.query.text == b.query.text && a.documents.map(\.text) == b.documents.map(\.text))
        #expect(a.images.map(\.pixels) == b.images.map(\.pixels))
        #expect(Set(a.images.map(\.pixels)).count == a.images.count)
        #expect(try SyntheticImage.make(seed: 7).pixels == SyntheticImage.make(seed: 7).pixels)
        var first = SyntheticText(seed: 3), second = SyntheticText(seed: 3)
        #expect(first.words(40) == second.words(40))
        #expect(Self.words(first.words(17)) == 17)
    }

    @Test("limiting the documents keeps the query image and the images of the documents kept")
    func limit() throws {
        var w4 = try #require(try BenchWorkload.make("W4"))
        let images = w4.images
        w4.limit(documents: 3)
        #expect(w4.documents.count == 3)
        #expect(w4.images.map(\.pixels) == images.prefix(4).map(\.pixels))
        var w1 = try #require(try BenchWorkload.make("W1"))
        w1.limit(documents: 500)
        #expect(w1.documents.count == 100)
    }

    @Test("S1 and S3: request i is the same body every time; S3 rotates 8 distinct query images")
    func servingMixes() throws {
        let s1 = try ServeWorkload("S1")
        let request = s1.request(5)
        #expect(Self.words(request.queryText) == 32 && request.queryImage == nil)
        #expect(request.documents.count == 20 && request.documents.allSatisfy { Self.words($0.text) == 200 })
        #expect(try request.body() == s1.request(5).body())
        #expect(try request.body() != s1.request(6).body())

        let s3 = try ServeWorkload("S3")
        let queries = (0..<8).map { s3.request($0).queryImage }
        #expect(Set(queries.compactMap { $0 }).count == 8)
        #expect(s3.request(8).queryImage == queries[0])
        #expect(
            s3.request(2).documents.count == 10 && s3.request(2).documents.allSatisfy { Self.words($0.text) == 100 })
        let image = try ImageDecoder.decode(try #require(queries[0]), maxPixels: 1 << 24)
        #expect(image.width == 768 && image.height == 512)
        let items = s3.request(1).items
        #expect(items.query.image != nil && items.documents.count == 10)
    }

    @Test("an unknown mix is an error that names the mixes")
    func unknownMix() {
        #expect(throws: WorkloadError.unknownMix("S9")) { try ServeWorkload("S9") }
        #expect(WorkloadError.unknownMix("S9").description.contains("S1, S2, S3 or S4"))
    }
}
