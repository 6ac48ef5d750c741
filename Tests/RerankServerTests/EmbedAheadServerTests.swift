import CPUBackend
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ImageProcessing
import Reranker
import TensorKit
import Testing

@testable import RerankServer

@Suite("Server: a lone request's first images go through the vision tower while the rest are prepared")
struct EmbedAheadServerTests {
    /// `count` distinct small JPEGs (base64), different for each `seed`.
    static func images(_ count: Int, seed: Int) throws -> [String] {
        try (0..<count).map { index in
            var pixels = [UInt8](repeating: 0, count: 56 * 42 * 3)
            for position in pixels.indices {
                pixels[position] = UInt8(truncatingIfNeeded: position * (index + 3) / 5 + seed * 31)
            }
            return try JPEGWriter.encode(try RGBImage(width: 56, height: 42, pixels: pixels)).base64EncodedString()
        }
    }

    /// What the reranker itself gives for the same query and images.
    static func reference(query: String, images: [String]) throws -> [RerankResult] {
        try TinyModel.engine().reranker.score(
            query: RerankItem(text: query),
            documents: try images.map { RerankItem(image: .encoded(try #require(Data(base64Encoded: $0)))) })
    }

    static func value(_ name: String, in metrics: String) -> Double {
        metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("five image documents: the first two are embedded ahead, the scores are the reranker's")
    func loneRequest() async throws {
        let engine = CountingEngine(try TinyModel.engine())
        let images = try Self.images(5, seed: 1)
        let reference = try Self.reference(query: "which photo", images: images)
        try await withServer(engine: engine) { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "which photo", "documents": images.map { ["image": $0] }]))
            #expect(response.status == .ok)
            let results = try response.decoded(RerankResponseV1.self).results
            #expect(results.count == 5)
            for result in results {
                let expected = try #require(reference.first { $0.index == result.index })
                #expect(abs(result.relevanceScore - expected.score) < 1e-5)
            }
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(Self.value("lychee_images_embedded_ahead_total", in: metrics) == 2)
        }
        // Preparation waves of five image documents: the first two, then three.
        #expect(engine.embeddedAhead == [2])
        #expect(engine.batches.reduce(0, +) == 5)
    }

    @Test("/metrics counts the images decoded on the host: one image in every document of a request, once")
    func decodedImagesMetric() async throws {
        let image = try #require(try Self.images(1, seed: 5).first)
        let reranker = try Reranker.load(modelDirectory: TinyModel.directory, backend: CPUBackend())
        try await withServer(engine: RerankerEngine(reranker: reranker, modelName: "tiny")) { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "which photo", "documents": Array(repeating: ["image": image], count: 6)]))
            #expect(response.status == .ok)
            let scores = try response.decoded(RerankResponseV1.self).results.map(\.relevanceScore)
            #expect(scores.count == 6)
            #expect((scores.max() ?? 1) - (scores.min() ?? 0) < 1e-5)
            let metrics = try await client.execute(uri: "/metrics", method: .get).text
            #expect(Self.value("lychee_images_decoded", in: metrics) == 1)
            #expect(Self.value("lychee_images_decoded_shared", in: metrics) == 5)
        }
    }

    @Test("/metrics counts the images the vision tower embedded, ahead of their pass and in it; cached ones not")
    func embeddedImagesMetric() async throws {
        let reranker = try Reranker.load(
            modelDirectory: TinyModel.directory, backend: CPUBackend(),
            options: RerankerOptions(tokenBudget: 512, imageCacheBytes: 64 << 20))
        let images = try Self.images(5, seed: 3)
        try await withServer(engine: RerankerEngine(reranker: reranker, modelName: "tiny")) { client, _ in
            for round in 1...2 {
                let response = try await client.execute(
                    uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                    body: try body(["query": "round \(round)", "documents": images.map { ["image": $0] }]))
                #expect(response.status == .ok)
                // The second round finds the five images in the cache (or waiting for it): none embedded again.
                let metrics = try await client.execute(uri: "/metrics", method: .get).text
                #expect(Self.value("lychee_images_embedded", in: metrics) == 5, "round \(round)")
            }
        }
        #expect(reranker.imagesEmbedded == 5)
    }

    @Test("with the engine busy, nothing is embedded ahead; once idle, it is")
    func busyEngine() async throws {
        let engine = CountingEngine(try TinyModel.engine(), passDelay: .milliseconds(600))
        let images = try Self.images(4, seed: 2)
        let pairs = try engine.preparePairs(
            query: RerankItem(text: "busy"),
            documents: try images.map { RerankItem(image: .encoded(try #require(Data(base64Encoded: $0)))) },
            instruction: nil, options: PairPreparationOptions())
        try await withServer(engine: engine) { client, parts in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    let response = try await client.execute(
                        uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                        body: try body(["query": "text only", "documents": ["one", "two"]]))
                    #expect(response.status == .ok)
                }
                // The text request's pass holds the engine for 600 ms.
                for _ in 0..<200 where engine.batches.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                await parts.scheduler.embedAheadIfIdle(pairs.flatMap(\.images))
                #expect(engine.embeddedAhead.isEmpty)
                try await group.waitForAll()
            }
            await parts.scheduler.embedAheadIfIdle(pairs.flatMap(\.images))
            #expect(engine.embeddedAhead == [4])
        }
    }

    @Test(
        "a bad image in either part fails the request naming its document, and the engine serves the next one",
        arguments: [0, 4])
    func badImageInAPart(bad: Int) async throws {
        let engine = CountingEngine(try TinyModel.engine())
        var encoded = try Self.images(5, seed: 4 + bad)
        encoded[bad] = Data("hello world".utf8).base64EncodedString()
        let images = encoded
        try await withServer(engine: engine) { client, _ in
            let failed = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "bad image", "documents": images.map { ["image": $0] }]))
            #expect(failed.status == .badRequest)
            #expect(try failed.apiError().message.hasPrefix("documents[\(bad)]:"))
            let next = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "after", "documents": ["one", "two"]]))
            #expect(next.status == .ok)
        }
        // A bad image in the second part: the first part's images were embedded while it was prepared.
        #expect(engine.embeddedAhead == (bad == 0 ? [] : [2]))
    }

    @Test("with two engines a request is prepared whole and nothing is embedded ahead")
    func twoEngines() async throws {
        let engines = [CountingEngine(try TinyModel.engine()), CountingEngine(try TinyModel.engine())]
        let images = try Self.images(4, seed: 3)
        let reference = try Self.reference(query: "two engines", images: images)
        var configuration = ServerConfiguration()
        configuration.tokenBudget = 512
        let (application, parts) = try buildApplication(engines: engines, configuration: configuration)
        try await application.test(.router) { client in
            for _ in 0..<500 where !(await parts.scheduler.isReady) { try await Task.sleep(for: .milliseconds(5)) }
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "two engines", "documents": images.map { ["image": $0] }]))
            #expect(response.status == .ok)
            for result in try response.decoded(RerankResponseV1.self).results {
                let expected = try #require(reference.first { $0.index == result.index })
                #expect(abs(result.relevanceScore - expected.score) < 1e-5)
            }
        }
        #expect(engines.allSatisfy { $0.embeddedAhead.isEmpty })
    }
}
