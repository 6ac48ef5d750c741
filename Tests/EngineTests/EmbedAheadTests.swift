import CPUBackend
import Foundation
import ImageProcessing
import Qwen25VL
import TestSupport
import Testing

@testable import Reranker

@Suite("Images embedded ahead of their pass")
struct EmbedAheadTests {
    static func load() throws -> Reranker {
        try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(),
            options: RerankerOptions(tokenBudget: 4096))
    }

    @Test("the query image's rows are kept on the device once, equal to the vision tower's output")
    func queryImageRowsStayOnTheDevice() throws {
        let reranker = try Self.load()
        let query = RerankItem(text: "a photo", image: .file(Fixtures.url("checkpoints/images/photo-a.png")))
        let prepared = try reranker.prepareQuery(query, instruction: nil, options: PairPreparationOptions())
        let image = try #require(prepared.image)
        #expect(image.deviceEmbeddings == nil)
        try reranker.embedAhead([image, image])
        let rows = try #require(image.deviceEmbeddings)
        #expect(rows.shape == [image.grid.mergedTokenCount(), reranker.model.dimensions.text.hiddenSize])
        guard case .pixels(let source) = image.content else { throw CancellationError() }
        let alone = try reranker.model.imageEmbeddings(images: [source], layout: ImagePreprocessor.patchLayout)
        #expect(try reranker.model.backend.download(rows) == reranker.model.backend.download(alone))
        // Embedded already: a second call leaves the rows as they are.
        try reranker.embedAhead([image])
        #expect(image.deviceEmbeddings.map { ObjectIdentifier($0.storage) } == ObjectIdentifier(rows.storage))
    }

    @Test("two images embedded together each keep their own rows")
    func imagesKeepTheirOwnRows() throws {
        let reranker = try Self.load()
        let files = ["photo-b.png", "photo-c.jpg"]
        let query = RerankItem(text: "q")
        let prepared = try reranker.prepareQuery(query, instruction: nil, options: PairPreparationOptions())
        let pairs = try reranker.preparePairs(
            prepared, documents: files.map { RerankItem(image: .file(Fixtures.url("checkpoints/images/\($0)"))) }[...])
        let images = pairs.compactMap(\.documentImage)
        try reranker.embedAhead(images)
        for image in images {
            let rows = try #require(image.deviceEmbeddings)
            guard case .pixels(let source) = image.content else { throw CancellationError() }
            let alone = try reranker.model.imageEmbeddings(images: [source], layout: ImagePreprocessor.patchLayout)
            let (a, b) = (try reranker.model.backend.download(rows), try reranker.model.backend.download(alone))
            #expect(a.count == b.count)
            #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        }
    }
}
