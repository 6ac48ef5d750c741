import CPUBackend
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Reranker
import TestSupport
import Testing

@testable import RerankServer

/// The TEI and vLLM dialects, and the Cohere/Jina behaviours clients rely on, each checked against the
/// engine's own scores on the tiny model.
@Suite("Dialects")
struct DialectTests {
    /// The engine's results for `documents` (texts) under `options`, by document index.
    static func expected(
        query: RerankItem, documents: [RerankItem], options: PairPreparationOptions = .init(),
        reranker: Reranker? = nil
    ) throws -> [Int: RerankResult] {
        let reranker = try reranker ?? TinyModel.engine().reranker
        let results = try reranker.scorePairs(
            reranker.preparePairs(query: query, documents: documents, options: options))
        return Dictionary(uniqueKeysWithValues: results.map { ($0.index, $0) })
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ object: Any) async throws -> TestResponse {
        try await client.execute(uri: path, method: .post, headers: jsonHeaders, body: try body(object))
    }

    // MARK: TEI

    @Test("TEI /rerank: a bare list sorted by score, raw_scores gives logits, return_text echoes")
    func teiRerank() async throws {
        let texts = ["a red bicycle", "a blue car", "", "bicycles and more bicycles"]
        let expected = try Self.expected(
            query: RerankItem(text: "bicycle"), documents: texts.map { RerankItem(text: $0) })
        try await withServer { client, _ in
            let plain = try await Self.post(client, "/rerank", ["query": "bicycle", "texts": texts])
            #expect(plain.status == .ok)
            let ranks = try plain.decoded([TEIRank].self)
            #expect(ranks.count == 4)
            #expect(ranks.map(\.score) == ranks.map(\.score).sorted(by: >))
            for rank in ranks {
                #expect(abs(rank.score - (expected[rank.index]?.score ?? .nan)) < 1e-6)
                #expect(rank.text == nil)
            }
            #expect(!plain.text.contains("\"text\""))

            let raw = try await Self.post(
                client, "/rerank", ["query": "bicycle", "texts": texts, "raw_scores": true, "return_text": true])
            for rank in try raw.decoded([TEIRank].self) {
                #expect(abs(rank.score - (expected[rank.index]?.logit ?? .nan)) < 1e-5)
                #expect(rank.text == texts[rank.index])
            }
        }
    }

    @Test("TEI truncation: documents cut from the chosen end, never refused unless truncate is false")
    func teiTruncation() async throws {
        let reranker = try TinyModel.engine().reranker
        let short = try RerankerEngine(
            reranker: Reranker(
                model: reranker.model, configuration: reranker.configuration, tokenizer: reranker.tokenizer,
                preprocessor: reranker.preprocessor, options: RerankerOptions(maxLength: 128, tokenBudget: 512)),
            modelName: "short")
        let long = (0..<200).map { "word\($0)" }.joined(separator: " ")
        let left = try Self.expected(
            query: RerankItem(text: "q"), documents: [RerankItem(text: long)],
            options: .init(truncationDirection: .left), reranker: short.reranker)
        try await withServer(engine: short) { client, _ in
            let cut = try await Self.post(
                client, "/rerank", ["query": "q", "texts": [long], "truncate": true, "truncation_direction": "Left"])
            #expect(cut.status == .ok)
            let rank = try #require(try cut.decoded([TEIRank].self).first)
            #expect(abs(rank.score - (left[0]?.score ?? .nan)) < 1e-6)
            #expect(left[0]?.truncated == true)

            let refused = try await Self.post(client, "/rerank", ["query": "q", "texts": [long], "truncate": false])
            #expect(refused.status == .badRequest)
            #expect(try refused.apiError().message.contains("does not allow truncation"))

            let direction = try await Self.post(
                client, "/rerank", ["query": "q", "texts": ["a"], "truncation_direction": "middle"])
            #expect(direction.status == .badRequest)
        }
    }

    @Test("GET /info answers in TEI's shape")
    func teiInfo() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: "/info", method: .get)
            #expect(response.status == .ok)
            let info = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(info["model_id"] as? String == "tiny-untied-legacy")
            #expect((info["model_type"] as? [String: Any])?["reranker"] != nil)
            #expect(info["max_input_length"] as? Int == 3200)
            #expect(info["backend"] as? String == "CPU")
            #expect(info["version"] as? String == lycheeRerankVersion)
            #expect(info["model_dtype"] as? String == "bfloat16")
        }
    }

    @Test("/info names the 8-bit weights of a model loaded with --dtype fp8")
    func teiInfoEightBit() throws {
        let reranker = try Reranker.load(
            modelDirectory: TinyModel.directory, backend: CPUBackend(), options: RerankerOptions(tokenBudget: 512),
            linearPrecision: .fp8)
        let engine = RerankerEngine(reranker: reranker, modelName: "tiny-untied-legacy")
        #expect(engine.details.dtype == "float8_e4m3fn")
        #expect(try TinyModel.engine().details.dtype == "bfloat16")
    }

    // MARK: vLLM

    @Test("vLLM /score: one query against many documents, in the documents' order")
    func vllmScore() async throws {
        let documents = ["a red bicycle", "a blue car", "bicycles"]
        let expected = try Self.expected(
            query: RerankItem(text: "bicycle"), documents: documents.map { RerankItem(text: $0) })
        try await withServer { client, _ in
            for path in ["/score", "/v1/score"] {
                let response = try await Self.post(
                    client, path, ["model": "x", "text_1": "bicycle", "text_2": documents])
                #expect(response.status == .ok)
                let answer = try response.decoded(ScoreResponse.self)
                #expect(answer.object == "list" && answer.model == "tiny-untied-legacy")
                #expect(answer.data.map(\.index) == [0, 1, 2])
                #expect(answer.data.allSatisfy { $0.object == "score" })
                for entry in answer.data { #expect(abs(entry.score - (expected[entry.index]?.score ?? .nan)) < 1e-6) }
                #expect(answer.usage.promptTokens == expected.values.reduce(0) { $0 + $1.tokens })
                #expect(answer.usage.totalTokens == answer.usage.promptTokens)
            }
        }
    }

    @Test("vLLM /score pairwise: text_1[i] against text_2[i]; other lengths are refused")
    func vllmScorePairwise() async throws {
        let reranker = try TinyModel.engine().reranker
        let first = try reranker.score(query: RerankItem(text: "cats"), documents: [RerankItem(text: "a cat")])[0]
        let second = try reranker.score(query: RerankItem(text: "cars"), documents: [RerankItem(text: "a car")])[0]
        try await withServer { client, _ in
            let response = try await Self.post(
                client, "/score", ["text_1": ["cats", "cars"], "text_2": ["a cat", "a car"]])
            let data = try response.decoded(ScoreResponse.self).data
            #expect(data.count == 2)
            #expect(abs(data[0].score - first.score) < 1e-5)
            #expect(abs(data[1].score - second.score) < 1e-5)
            let mismatched = try await Self.post(client, "/score", ["text_1": ["a", "b"], "text_2": ["x", "y", "z"]])
            #expect(mismatched.status == .badRequest)
        }
    }

    @Test("vLLM content parts work as query and documents and score like {text, image}")
    func vllmContentParts() async throws {
        let image = "data:image/jpeg;base64," + (try fixtureImageBase64("photo-c.jpg"))
        try await withServer { client, _ in
            let parts: [String: Any] = [
                "content": [["type": "image_url", "image_url": ["url": image]], ["type": "text", "text": "a photo"]]
            ]
            let withParts = try await Self.post(
                client, "/v1/rerank",
                ["query": ["content": [["type": "text", "text": "photo"]]], "documents": [parts, "plain"]])
            let withObjects = try await Self.post(
                client, "/v1/rerank", ["query": "photo", "documents": [["text": "a photo", "image": image], "plain"]])
            #expect(withParts.status == .ok)
            let a = try withParts.decoded(RerankResponseV1.self).results
            let b = try withObjects.decoded(RerankResponseV1.self).results
            #expect(a.map(\.index) == b.map(\.index))
            for (x, y) in zip(a, b) { #expect(abs(x.relevanceScore - y.relevanceScore) < 1e-9) }

            let twoImages = try await Self.post(
                client, "/v1/rerank",
                [
                    "query": "q",
                    "documents": [
                        [
                            "content": [
                                ["type": "image_url", "image_url": ["url": image]],
                                ["type": "image_url", "image_url": ["url": image]],
                            ]
                        ]
                    ],
                ])
            #expect(twoImages.status == .badRequest)
            #expect(try twoImages.apiError().message.contains("more than one image"))
        }
    }

    @Test("GET /v1/models lists the served model")
    func vllmModels() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: "/v1/models", method: .get)
            #expect(response.status == .ok)
            let list = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(list["object"] as? String == "list")
            let model = try #require((list["data"] as? [[String: Any]])?.first)
            #expect(model["id"] as? String == "tiny-untied-legacy")
            #expect(model["object"] as? String == "model")
            #expect(model["max_model_len"] as? Int == 3200)
        }
    }

    @Test("rerank answers carry id, model and usage on v1 and v2")
    func idModelUsage() async throws {
        try await withServer { client, _ in
            for path in ["/v1/rerank", "/v2/rerank"] {
                let response = try await Self.post(client, path, ["query": "q", "documents": ["a", "b"]])
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(object["id"] as? String == response.headers[HTTPField.Name("X-Request-Id")!], "\(path)")
                #expect(object["model"] as? String == "tiny-untied-legacy", "\(path)")
                let usage = try #require(object["usage"] as? [String: Int], "\(path)")
                #expect(usage["prompt_tokens"] != nil && usage["prompt_tokens"] == usage["total_tokens"], "\(path)")
            }
        }
    }

    @Test("mm_processor_kwargs narrows image sizes within the server's bounds")
    func imageBounds() async throws {
        let image = try fixtureImageBase64("photo-c.jpg")
        let reranker = try TinyModel.engine().reranker
        let small = try reranker.withImageBounds(minPixels: nil, maxPixels: 4 * 28 * 28)
        let expected = try small.score(
            query: RerankItem(text: "q"),
            documents: [RerankItem(image: .file(Fixtures.url("checkpoints/images/photo-c.jpg")))])[0]
        try await withServer { client, _ in
            let full = try await Self.post(client, "/v1/rerank", ["query": "q", "documents": [["image": image]]])
            let narrowed = try await Self.post(
                client, "/v1/rerank",
                ["query": "q", "documents": [["image": image]], "mm_processor_kwargs": ["max_pixels": 4 * 28 * 28]])
            let fullResult = try #require(try full.decoded(RerankResponseV1.self).results.first)
            let result = try #require(try narrowed.decoded(RerankResponseV1.self).results.first)
            #expect(result.tokens == expected.tokens)
            #expect(result.tokens < fullResult.tokens)
            #expect(abs(result.relevanceScore - expected.score) < 1e-6)

            let outside = try await Self.post(
                client, "/v1/rerank", ["query": "q", "documents": ["a"], "mm_processor_kwargs": ["max_pixels": 100]])
            #expect(outside.status == .badRequest)
            #expect(try outside.apiError().message.contains("outside this server's bounds"))
        }
    }

    // MARK: Cohere and Jina behaviours

    @Test("max_tokens_per_doc cuts each document's text, not the prompt (Cohere's meaning)")
    func maxTokensPerDocument() async throws {
        let long = String(repeating: "long text about many things ", count: 40)
        let expected = try Self.expected(
            query: RerankItem(text: "a query of several words"), documents: [RerankItem(text: long)],
            options: .init(maxDocumentTokens: 8))
        try await withServer { client, _ in
            // 8 is far below the prompt's own template: the old meaning refused this request.
            let response = try await Self.post(
                client, "/v2/rerank",
                ["query": "a query of several words", "documents": [long], "max_tokens_per_doc": 8])
            #expect(response.status == .ok)
            let result = try #require(try response.decoded(RerankResponseV2.self).results.first)
            #expect(abs(result.relevanceScore - (expected[0]?.score ?? .nan)) < 1e-6)
            let v1 = try await Self.post(
                client, "/v1/rerank", ["query": "q", "documents": [long], "max_tokens_per_doc": 8])
            let first = try #require(try v1.decoded(RerankResponseV1.self).results.first)
            #expect(first.truncated)
            #expect(first.tokens > 8)
        }
    }

    @Test("rank_fields: the named fields as name: value lines, in order")
    func rankFields() async throws {
        let expected = try Self.expected(
            query: RerankItem(text: "q"),
            documents: [RerankItem(text: "title: Bikes\nbody: Red ones"), RerankItem(text: "body: Cars")])
        try await withServer { client, _ in
            let response = try await Self.post(
                client, "/v1/rerank",
                [
                    "query": "q", "rank_fields": ["title", "body"],
                    "documents": [["body": "Red ones", "title": "Bikes", "year": 2020], ["body": "Cars"]],
                ])
            #expect(response.status == .ok)
            for result in try response.decoded(RerankResponseV1.self).results {
                #expect(abs(result.relevanceScore - (expected[result.index]?.score ?? .nan)) < 1e-6)
            }
        }
    }

    @Test("an empty document is scored as the reference renders it; an empty query stays a 400")
    func emptyDocument() async throws {
        let expected = try Self.expected(
            query: RerankItem(text: "q"), documents: [RerankItem(text: "a"), RerankItem(text: "")])
        try await withServer { client, _ in
            let response = try await Self.post(
                client, "/v1/rerank", ["query": "q", "documents": ["a", "", ["text": ""]]])
            #expect(response.status == .ok)
            let results = try response.decoded(RerankResponseV1.self).results
            #expect(results.count == 3)
            for result in results where result.index > 0 {
                #expect(abs(result.relevanceScore - (expected[1]?.score ?? .nan)) < 1e-6)
            }
            let emptyQuery = try await Self.post(client, "/v1/rerank", ["query": "", "documents": ["a"]])
            #expect(emptyQuery.status == .badRequest)
        }
    }

    @Test("return_documents echoes text and image URLs, never base64")
    func echoWithoutBase64() async throws {
        let image = try fixtureImageBase64("photo-c.jpg")
        try await withServer { client, _ in
            for path in ["/v1/rerank", "/v2/rerank"] {
                let response = try await Self.post(
                    client, path,
                    ["query": "q", "documents": [["text": "with image", "image": image]], "return_documents": true])
                #expect(response.status == .ok)
                #expect(!response.text.contains(String(image.prefix(64))), "\(path)")
                #expect(response.text.contains(#""document":{"text":"with image"}"#), "\(path)")
            }
        }
        #expect(ItemInput(text: "t", image: "https://example.com/a.png").echoed.image == "https://example.com/a.png")
        #expect(ItemInput(image: "data:image/png;base64,AAAA").echoed.image == nil)
    }

    @Test("every error body has a top-level detail equal to its message")
    func errorDetail() async throws {
        try await withServer { client, _ in
            for (path, object) in [
                ("/v1/rerank", ["query": "q"] as [String: Any]), ("/rerank", ["query": "q", "texts": []]),
            ] {
                let response = try await Self.post(client, path, object)
                #expect(response.status == .badRequest)
                let body = try response.decoded(ErrorBody.self)
                #expect(body.detail == body.error.message)
                #expect(!body.detail.isEmpty)
            }
            let missing = try await client.execute(uri: "/nope", method: .get)
            #expect(try missing.decoded(ErrorBody.self).detail.contains("no such route"))
        }
    }
}

@Suite("Methods")
struct MethodTests {
    @Test("every documented path answers 405 with Allow for a method it does not take")
    func methodNotAllowed() async throws {
        let document = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Fixtures.root.appendingPathComponent("Sources/RerankServer/Web/openapi.json")))
        let paths = try #require((document as? [String: Any])?["paths"] as? [String: [String: Any]])
        let methods = paths.mapValues { Set($0.keys.map { $0.uppercased() }) }
        try await withServer { client, _ in
            for (path, documented) in methods {
                let concrete = path.replacingOccurrences(of: "{file}", with: "app.js")
                let response = try await client.execute(uri: concrete, method: .put)
                #expect(response.status == .methodNotAllowed, "\(path)")
                #expect(response.headers[.allow] == documented.first, "\(path)")
                #expect(try response.apiError().type == "method_not_allowed")
            }
        }
    }
}
