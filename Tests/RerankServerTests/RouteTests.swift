import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Reranker
import TestSupport
import Testing

@testable import RerankServer

@Suite("Routes")
struct RouteTests {
    @Test("/health and /ready answer 200 once warmed up")
    func healthAndReady() async throws {
        try await withServer { client, _ in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            #expect(try health.decoded(HealthBody.self).status == "ok")
            #expect(try health.decoded(HealthBody.self).engines.map(\.healthy) == [true])
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(ready.text.contains(#""model":"tiny-untied-legacy""#))
            #expect(ready.headers[HTTPField.Name("X-Request-Id")!] != nil)
        }
    }

    @Test("/v1/rerank returns the engine's own scores, most relevant first", arguments: ["/v1/rerank", "/rerank"])
    func rerankV1(path: String) async throws {
        let engine = try TinyModel.engine()
        let image = try fixtureImageBase64("photo-c.jpg")
        let documents: [Any] = [
            "A red bicycle leaning on a wall", ["text": "A blue car"], ["image": "data:image/jpeg;base64," + image],
            ["text": "a photo", "image": image],
        ]
        let expected = try engine.reranker.score(
            query: RerankItem(text: "a red bicycle"),
            documents: [
                RerankItem(text: "A red bicycle leaning on a wall"), RerankItem(text: "A blue car"),
                RerankItem(image: .file(Fixtures.url("checkpoints/images/photo-c.jpg"))),
                RerankItem(text: "a photo", image: .file(Fixtures.url("checkpoints/images/photo-c.jpg"))),
            ],
            instruction: "Find bikes")
        let request = try body(["query": "a red bicycle", "documents": documents, "instruction": "Find bikes"])
        try await withServer { client, _ in
            let response = try await client.execute(uri: path, method: .post, headers: jsonHeaders, body: request)
            #expect(response.status == .ok)
            let answer = try response.decoded(RerankResponseV1.self)
            #expect(answer.model == "tiny-untied-legacy")
            #expect(answer.results.count == 4)
            #expect(answer.results.map(\.relevanceScore) == answer.results.map(\.relevanceScore).sorted(by: >))
            for result in answer.results {
                let reference = try #require(expected.first { $0.index == result.index })
                #expect(abs(result.relevanceScore - reference.score) < 1e-6)
                #expect(abs(result.logit - reference.logit) < 1e-5)
                #expect(result.tokens == reference.tokens)
                #expect(result.document == nil)
            }
            #expect(answer.usage.totalTokens == expected.reduce(0) { $0 + $1.tokens })
        }
    }

    @Test("top_n cuts the ranking; return_documents echoes the documents")
    func topNAndDocuments() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body([
                    "query": ["text": "cats"], "documents": ["a cat", "a dog", "a car"], "top_n": 2,
                    "return_documents": true,
                ]))
            let answer = try response.decoded(RerankResponseV1.self)
            #expect(answer.results.count == 2)
            for result in answer.results {
                #expect(result.document?.text == ["a cat", "a dog", "a car"][result.index])
            }
        }
    }

    @Test("/v2/rerank uses Cohere v2 names and cuts documents to max_tokens_per_doc")
    func rerankV2() async throws {
        let long = String(repeating: "long text about many things ", count: 40)
        try await withServer { client, _ in
            let response = try await client.execute(
                uri: "/v2/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "x", "documents": ["short", long], "top_n": 2, "max_tokens_per_doc": 80]))
            #expect(response.status == .ok)
            let answer = try response.decoded(RerankResponseV2.self)
            #expect(answer.meta.apiVersion.version == "2")
            #expect(answer.results.count == 2)
            let uncut = try await client.execute(
                uri: "/v2/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "x", "documents": ["short", long]]))
            #expect(answer.meta.tokens.inputTokens < (try uncut.decoded(RerankResponseV2.self)).meta.tokens.inputTokens)
            #expect(answer.id == response.headers[HTTPField.Name("X-Request-Id")!])

            let v1 = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "x", "documents": [long], "max_tokens_per_doc": 80]))
            let result = try #require(try v1.decoded(RerankResponseV1.self).results.first)
            #expect(result.truncated)
        }
    }

    @Test("concurrent requests share engine calls and get the scores they get alone")
    func packing() async throws {
        let engine = CountingEngine(try TinyModel.engine())
        let alone = try engine.inner.reranker.score(
            query: RerankItem(text: "query 3"), documents: (0..<4).map { RerankItem(text: "document \($0)") })
        try await withServer(engine: engine) { client, _ in
            try await withThrowingTaskGroup(of: [RerankResultV1].self) { group in
                for request in 0..<8 {
                    group.addTask {
                        let response = try await client.execute(
                            uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                            body: try body(["query": "query \(request)", "documents": (0..<4).map { "document \($0)" }])
                        )
                        let results = try response.decoded(RerankResponseV1.self).results
                        if request == 3 {
                            for result in results {
                                let reference = try #require(alone.first { $0.index == result.index })
                                // Packed with other requests, the rows fall into other BLAS blocks and MLP row
                                // chunks: fp32 rounding moves scores by ~1e-6, never more than 1e-5.
                                #expect(abs(result.relevanceScore - reference.score) < 1e-5)
                            }
                        }
                        return results
                    }
                }
                for try await results in group { #expect(results.count == 4) }
            }
        }
        // 32 pairs of more than 60 tokens each under a 512-token budget (each query's prefix counted once per
        // call): every call within the budget, and calls are shared.
        #expect(engine.batches.reduce(0, +) == 32)
        #expect(engine.batches.count < 32)
        #expect(engine.batchTokens.allSatisfy { $0 <= 512 })
    }

    @Test("/openapi.json is an OpenAPI 3 document naming every route")
    func openAPI() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            let document = try #require(
                try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect((document["openapi"] as? String)?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"] as? [String: Any])
            for route in [
                "/", "/health", "/ready", "/rerank", "/v1/rerank", "/v2/rerank", "/metrics", "/openapi.json", "/docs",
            ] {
                #expect(paths[route] != nil, "missing \(route)")
            }
        }
    }

    @Test(
        "the web page, docs page and their files are served by us",
        arguments: [
            ("/", "text/html", "id=\"rerank\""), ("/docs", "text/html", "/static/docs.js"),
            ("/static/app.js", "text/javascript", "/v1/rerank"), ("/static/style.css", "text/css", "@media"),
            ("/static/docs.js", "text/javascript", "openapi.json"), ("/static/favicon.svg", "image/svg+xml", "<svg"),
        ])
    func webFiles(path: String, type: String, snippet: String) async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: path, method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix(type) == true)
            #expect(response.text.contains(snippet))
            #expect(!response.text.contains("https://"), "no CDN")
        }
    }

    @Test("/metrics counts requests, errors, batches and tokens")
    func metrics() async throws {
        try await withServer { client, _ in
            _ = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["d"]]))
            _ = try await client.execute(uri: "/missing", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            let text = response.text
            #expect(text.contains(#"lychee_http_requests_total{route="/v1/rerank",method="POST",status="200"} 1"#))
            #expect(text.contains(#"lychee_http_errors_total{type="not_found"} 1"#))
            #expect(text.contains("lychee_batch_pairs_count"))
            #expect(text.contains("lychee_tokens_total"))
            #expect(text.contains("lychee_http_request_duration_seconds_bucket"))
            #expect(text.contains("lychee_queue_pairs"))
            // Each stage of the ranking request was timed once.
            for stage in ["decode", "inputs", "prepare", "score", "queue"] {
                #expect(text.contains(#"lychee_request_stage_seconds_count{stage="\#(stage)"} 1"#), "\(stage)")
            }
        }
    }

    @Test("CORS: allowed origins get the headers and preflights are answered")
    func cors() async throws {
        var configuration = ServerConfiguration()
        configuration.corsOrigins = ["https://app.example"]
        try await withServer(configuration: configuration) { client, _ in
            let allowed = try await client.execute(
                uri: "/health", method: .get, headers: [.origin: "https://app.example"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://app.example")
            let other = try await client.execute(
                uri: "/health", method: .get, headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await client.execute(
                uri: "/v1/rerank", method: .options, headers: [.origin: "https://app.example"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
        }
    }

    @Test("an API key guards every route but /health and the static pages")
    func apiKey() async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = "s3cret"
        try await withServer(configuration: configuration) { client, _ in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/", method: .get).status == .ok)
            for path in ["/ready", "/metrics", "/openapi.json"] {
                let refused = try await client.execute(uri: path, method: .get)
                #expect(refused.status == .unauthorized)
                #expect(try refused.apiError().type == "unauthorized")
                let allowed = try await client.execute(
                    uri: path, method: .get, headers: [.authorization: "Bearer s3cret"])
                #expect(allowed.status == .ok)
            }
            let wrong = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: [.authorization: "Bearer nope"],
                body: try body(["query": "q", "documents": ["d"]]))
            #expect(wrong.status == .unauthorized)
            #expect(try wrong.apiError().message.contains("wrong API key"))
        }
    }
}
