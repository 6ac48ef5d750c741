import CPUBackend
import Foundation
import ImageProcessing
import Qwen25VL
import Reranker
import TestSupport
import Testing

/// The public API end to end: model folder -> prompts -> images -> packed batches -> scores.
@Suite("Reranker end to end on the fixture checkpoints")
struct RerankerEndToEndTests {
    static let models = ["tiny-untied-legacy", "tiny-tied-newer"]

    static func item(_ segment: GoldenModelOutputs.Segment) -> RerankItem {
        RerankItem(
            text: segment.text ?? "",
            image: segment.image.map { .file(Fixtures.url("checkpoints/images/\($0)")) })
    }

    static func load(_ name: String, tokenBudget: Int = 4096) throws -> Reranker {
        try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/\(name)"), backend: CPUBackend(),
            options: RerankerOptions(tokenBudget: tokenBudget))
    }

    @Test("every golden pair: prompt ids, token count and z as transformers", arguments: models)
    func goldenPairs(modelName: String) throws {
        let golden = try GoldenModelOutputs.load(modelName)
        let reranker = try Self.load(modelName)
        let prompts = try PromptBuilder(tokenizer: reranker.tokenizer)
        for pair in golden.pairs {
            let (_, _, grids) = try preprocessedImages(of: pair)
            let queryGrids = pair.query.image == nil ? [] : [grids[0]]
            let documentGrids = pair.document.image == nil ? [] : [grids[grids.count - 1]]
            let prompt = try prompts.encode(
                query: PromptSegment(text: pair.query.text ?? "", images: queryGrids),
                document: PromptSegment(text: pair.document.text ?? "", images: documentGrids),
                instruction: pair.instruction)
            #expect(prompt.tokenIDs == pair.input_ids, "\(pair.name): prompt ids differ from the reference")

            let results = try reranker.score(
                query: Self.item(pair.query), documents: [Self.item(pair.document)], instruction: pair.instruction)
            let result = try #require(results.first)
            #expect(result.tokens == pair.input_ids.count)
            #expect(abs(Float(result.logit) - pair.z) <= 1e-3 * max(1, abs(pair.z)), "\(pair.name)")
            #expect(abs(result.score - 1 / (1 + exp(-Double(pair.z)))) < 1e-4)
            #expect(!result.truncated)
        }
    }

    @Test("packing several documents per forward pass gives the same scores as one at a time")
    func batchingIsExact() throws {
        let golden = try GoldenModelOutputs.load("tiny-untied-legacy")
        // Documents of the pairs that share the default instruction and the first query.
        let query = RerankItem(text: "What is the capital of France?")
        let documents = golden.pairs.map { Self.item($0.document) }
        let packed = try Self.load("tiny-untied-legacy", tokenBudget: 100_000)
            .score(query: query, documents: documents)
        let single = try Self.load("tiny-untied-legacy", tokenBudget: 1).score(query: query, documents: documents)
        #expect(packed.map(\.index) == Array(documents.indices))
        for (a, b) in zip(packed, single) {
            #expect(abs(a.logit - b.logit) < 1e-4, "document \(a.index)")
            #expect(a.tokens == b.tokens)
        }
        // The first two documents are the golden text-text pairs of this query.
        #expect(abs(Float(packed[0].logit) - golden.pairs[0].z) < 1e-3)
        #expect(abs(Float(packed[1].logit) - golden.pairs[1].z) < 1e-3)
    }

    /// `waved` (scores of `documents` against `pair`'s query, in waves) equals scoring each pair alone, in
    /// document order, and its first document matches the reference's z for `pair`.
    static func expectSameAsAlone(
        _ waved: [RerankResult], reranker: Reranker, pair: GoldenModelOutputs.Pair, documents: [RerankItem]
    ) throws {
        let pairs = try reranker.preparePairs(query: Self.item(pair.query), documents: documents)
        let alone = try pairs.map { try reranker.scorePairs([$0])[0] }
        #expect(waved.map(\.index) == Array(documents.indices))
        for (a, b) in zip(waved, alone) {
            #expect(abs(a.logit - b.logit) < 1e-4, "document \(a.index)")
            #expect(a.tokens == b.tokens)
        }
        #expect(abs(Float(waved[0].logit) - pair.z) <= 1e-3 * max(1, abs(pair.z)))
    }

    @Test("a request of many documents is prepared in waves while the first is scored: same scores, same order")
    func preparationWavesAreExact() throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let pair = try #require(golden.pairs.first { $0.name == "image-query" })
        let reranker = try Self.load("tiny-tied-newer", tokenBudget: 300)
        // 24 documents (two waves: 4, then 20), images among them, and an image query shared by both waves.
        let documents = (0..<24).map {
            $0 % 3 == 0 ? Self.item(pair.document) : RerankItem(text: "document number \($0)")
        }
        #expect(Reranker.preparationWaves(documentCount: documents.count) == [0..<4, 4..<24])
        let waved = try reranker.score(query: Self.item(pair.query), documents: documents)
        try Self.expectSameAsAlone(waved, reranker: reranker, pair: pair, documents: documents)
    }

    @Test("which small requests of image documents are prepared in two halves")
    func imageDocumentHalves() {
        #expect(Reranker.preparationWaves(documentCount: 10, imageDocuments: 10) == [0..<5, 5..<10])
        #expect(Reranker.preparationWaves(documentCount: 10, imageDocuments: 3) == [0..<10])
        #expect(Reranker.preparationWaves(documentCount: 5, imageDocuments: 4) == [0..<2, 2..<5])
        #expect(Reranker.preparationWaves(documentCount: 20, imageDocuments: 20) == [0..<4, 4..<20])
        // With a query image for the device to embed meanwhile, a small request is one wave (its documents'
        // images in one vision pass); a large one still starts with an eighth.
        #expect(Reranker.preparationWaves(documentCount: 10, imageDocuments: 10, queryImage: true) == [0..<10])
        #expect(Reranker.preparationWaves(documentCount: 20, imageDocuments: 20, queryImage: true) == [0..<4, 4..<20])
    }

    @Test("a small request of image documents and a text query is prepared in two halves, in one pass: same scores")
    func imageDocumentsArePreparedInHalves() throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let pair = try #require(golden.pairs.first { $0.name == "mixed" })
        let reranker = try Self.load("tiny-tied-newer", tokenBudget: 100_000)
        let query = RerankItem(text: pair.query.text ?? "a query")
        let documents = (0..<10).map { _ in Self.item(pair.document) }
        #expect(documents.allSatisfy { $0.image != nil })
        let progress = ProgressLog()
        let waved = try reranker.score(query: query, documents: documents) { done, _ in progress.record(done) }
        #expect(progress.values == [10])  // the first half's pass waited for the second half
        let alone = try reranker.preparePairs(query: query, documents: documents).map {
            try reranker.scorePairs([$0])[0]
        }
        #expect(waved.map(\.index) == Array(documents.indices))
        for (a, b) in zip(waved, alone) { #expect(abs(a.logit - b.logit) < 1e-4, "document \(a.index)") }
    }

    @Test("W4-like, an image query and ten image documents in one wave: same scores, same order")
    func imageQueryRequestInOneWave() throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let pair = try #require(golden.pairs.first { $0.name == "mixed" })
        let reranker = try Self.load("tiny-tied-newer", tokenBudget: 100_000)
        let documents = (0..<10).map { _ in Self.item(pair.document) }
        #expect(documents.allSatisfy { $0.image != nil })
        let progress = ProgressLog()
        let scored = try reranker.score(query: Self.item(pair.query), documents: documents) { done, _ in
            progress.record(done)
        }
        #expect(progress.values == [10])
        try Self.expectSameAsAlone(scored, reranker: reranker, pair: pair, documents: documents)
    }

    @Test("a first wave's partial pass waits for the next wave only when that adds no pass")
    func partialPassWaitsWhenItAddsNoPass() {
        // W3-like: 6 documents of 140 tokens after a 560-token prefix, 44 more to come.
        let wave = Array(repeating: 140, count: 6)
        #expect(
            Reranker.waitsForNextWave(
                partialDocuments: 6, waveDocumentTokens: wave, sharedPrefix: 560, remainingDocuments: 44,
                tokenBudget: 16384))
        // Under a smaller budget the 44 fill one pass (6,720 tokens) and the 6 would make a second: run now.
        #expect(
            !Reranker.waitsForNextWave(
                partialDocuments: 6, waveDocumentTokens: wave, sharedPrefix: 560, remainingDocuments: 44,
                tokenBudget: 7022))
        #expect(
            !Reranker.waitsForNextWave(
                partialDocuments: 0, waveDocumentTokens: wave, sharedPrefix: 0, remainingDocuments: 44,
                tokenBudget: 16384))
    }

    @Test("20 short documents under a large budget run in one pass, not a first-wave pass and then the rest")
    func smallFirstWaveJoinsTheNextPass() throws {
        let reranker = try Self.load("tiny-untied-legacy", tokenBudget: 4096)
        let documents = (0..<20).map { RerankItem(text: "document number \($0)") }
        let progress = ProgressLog()
        let results = try reranker.score(query: RerankItem(text: "q"), documents: documents) { done, _ in
            progress.record(done)
        }
        #expect(results.map(\.index) == Array(documents.indices))
        #expect(progress.values == [20])
    }

    final class ProgressLog: @unchecked Sendable {
        private let lock = NSLock()
        private var recorded = [Int]()
        func record(_ value: Int) { lock.withLock { recorded.append(value) } }
        var values: [Int] { lock.withLock { recorded } }
    }

    @Test("a bad document in a later wave is named by its place in the request")
    func laterWaveErrorNamesTheDocument() throws {
        let reranker = try Self.load("tiny-untied-legacy")
        var documents = (0..<20).map { RerankItem(text: "document \($0)") }
        documents[17] = RerankItem(image: .file(URL(fileURLWithPath: "/nonexistent/picture.png")))
        do {
            _ = try reranker.score(query: RerankItem(text: "q"), documents: documents)
            Issue.record("scored a request with a missing image")
        } catch {
            #expect("\(error)".hasPrefix("document 17:"), "\(error)")
        }
    }

    @Test("an image query is shared by every document and matches the reference")
    func sharedQueryImage() throws {
        let golden = try GoldenModelOutputs.load("tiny-tied-newer")
        let pair = try #require(golden.pairs.first { $0.name == "image-query" })
        let reranker = try Self.load("tiny-tied-newer")
        let documents = [Self.item(pair.document), RerankItem(text: "something else"), Self.item(pair.document)]
        let results = try reranker.rerank(query: Self.item(pair.query), documents: documents, topN: 2)
        #expect(results.count == 2)
        let byIndex = try reranker.score(query: Self.item(pair.query), documents: documents)
        #expect(abs(Float(byIndex[0].logit) - pair.z) <= 1e-3 * max(1, abs(pair.z)))
        #expect(abs(byIndex[0].logit - byIndex[2].logit) < 1e-5)
        #expect(results[0].score >= results[1].score)
    }

    @Test("long documents are cut to the maximum length and reported")
    func truncation() throws {
        let reranker = try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(),
            options: RerankerOptions(maxLength: 120))
        let long = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 40)
        let results = try reranker.score(query: RerankItem(text: "fox"), documents: [RerankItem(text: long)])
        let result = try #require(results.first)
        #expect(result.truncated)
        #expect(result.tokens <= 120)
        #expect(result.score > 0 && result.score < 1)
    }
}

@Suite("Reranker refuses bad input with a clear message")
struct RerankerErrorTests {
    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func missingModelDirectory() {
        let text = message {
            _ = try Reranker.load(modelDirectory: URL(fileURLWithPath: "/nonexistent/model"), backend: CPUBackend())
        }
        #expect(text.contains("/nonexistent/model"))
        #expect(text.contains("config.json"))
    }

    @Test func missingTokenizer() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.copyItem(
            at: Fixtures.url("checkpoints/tiny-tied-newer/config.json"),
            to: directory.appendingPathComponent("config.json"))
        let text = message { _ = try Reranker.load(modelDirectory: directory, backend: CPUBackend()) }
        #expect(text.contains("tokenizer.json"))
    }

    @Test func noDocuments() throws {
        let reranker = try RerankerEndToEndTests.load("tiny-untied-legacy")
        #expect(
            message { _ = try reranker.score(query: RerankItem(text: "q"), documents: []) }.contains("no documents"))
    }

    @Test func corruptDocumentImageNamesTheDocument() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("broken.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0]).write(to: bad)
        let reranker = try RerankerEndToEndTests.load("tiny-untied-legacy")
        let text = message {
            _ = try reranker.score(
                query: RerankItem(text: "q"), documents: [RerankItem(text: "ok"), RerankItem(image: .file(bad))])
        }
        #expect(text.hasPrefix("document 1:"))
        #expect(text.contains("broken.png"))
    }

    @Test func queryThatCannotFit() throws {
        let reranker = try Reranker.load(
            modelDirectory: Fixtures.url("checkpoints/tiny-untied-legacy"), backend: CPUBackend(),
            options: RerankerOptions(maxLength: 90))
        let text = message {
            _ = try reranker.score(
                query: RerankItem(text: String(repeating: "capital ", count: 50)), documents: [RerankItem(text: "d")])
        }
        #expect(text.hasPrefix("query:"))
    }
}

@Suite("The --documents JSON Lines file")
struct DocumentsFileTests {
    let base = Fixtures.url("checkpoints/images")

    @Test func parsesTextImagesAndBlankLines() throws {
        let items = try DocumentsFile.parse(
            """
            {"text": "a red bicycle"}

            {"image": "photo-a.png"}
            {"text": "both", "image": "photo-c.jpg"}
            """, baseDirectory: base)
        #expect(items.count == 3)
        #expect(items[0].text == "a red bicycle" && items[0].image == nil)
        guard case .file(let url) = items[2].image else {
            Issue.record("expected a file image")
            return
        }
        #expect(url.lastPathComponent == "photo-c.jpg")
    }

    @Test(
        "every malformed line is named",
        arguments: [
            ("{\"text\": 3}", "line 1: \"text\" must be a string"),
            ("{\"text\": \"a\"}\nnot json", "line 2: not valid JSON"),
            ("[1, 2]", "line 1: expected an object"),
            ("{}", "line 1: the document has neither"),
            ("{\"image\": \"missing.png\"}", "missing.png does not exist"),
        ])
    func malformed(line: String, expected: String) {
        do {
            _ = try DocumentsFile.parse(line, baseDirectory: base)
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }
}
