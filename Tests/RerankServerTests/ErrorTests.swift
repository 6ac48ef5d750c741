import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Reranker
import Testing

@testable import RerankServer

/// Every kind of bad request gets a 4xx with `{"error": {"message", "type"}, "detail"}` that names the problem.
@Suite("Errors")
struct ErrorTests {
    static let badBodies: [(name: String, body: String, type: String, message: String)] = [
        ("not JSON", "{nope", "invalid_request", "not valid JSON"),
        ("empty body", "", "invalid_request", "body is empty"),
        ("missing query", #"{"documents":["a"]}"#, "invalid_request", #"missing field "query""#),
        ("missing documents", #"{"query":"q"}"#, "invalid_request", #"missing field "documents""#),
        (
            "query of the wrong type", #"{"query":1,"documents":["a"]}"#, "invalid_request",
            "field query has the wrong type"
        ),
        (
            "document of the wrong type", #"{"query":"q","documents":["a",[1]]}"#, "invalid_request",
            "field documents[1]"
        ),
        ("empty documents", #"{"query":"q","documents":[]}"#, "invalid_request", #""documents" is empty"#),
        (
            "top_n of zero", #"{"query":"q","documents":["a"],"top_n":0}"#, "invalid_request",
            #""top_n" must be at least 1"#
        ),
        (
            "max_tokens_per_doc of zero", #"{"query":"q","documents":["a"],"max_tokens_per_doc":0}"#, "invalid_request",
            #""max_tokens_per_doc" must be at least 1"#
        ),
        ("empty query", #"{"query":"","documents":["a"]}"#, "invalid_request", "query is empty"),
        (
            "bad base64", #"{"query":"q","documents":[{"image":"@@@"}]}"#, "invalid_request",
            "documents[0].image is not valid base64"
        ),
        (
            "data URL without comma", #"{"query":"q","documents":[{"image":"data:image/png;base64"}]}"#,
            "invalid_request",
            "without a comma"
        ),
        (
            "data URL not base64", #"{"query":{"image":"data:image/png,abc"},"documents":["a"]}"#, "invalid_request",
            "query.image is a data: URL that is not base64"
        ),
        (
            "bytes that are no image", #"{"query":"q","documents":["a",{"image":"aGVsbG8gd29ybGQ="}]}"#,
            "invalid_request",
            "documents[1]:"
        ),
        (
            "image URL while URLs are off", #"{"query":"q","documents":[{"image":"https://example.com/a.png"}]}"#,
            "invalid_request", "does not fetch image URLs"
        ),
        ("vision marker in the text", #"{"query":"<|image_pad|>","documents":["a"]}"#, "invalid_request", "query"),
        (
            "query too long to fit", #"{"query":""# + String(repeating: "q ", count: 3300) + #"","documents":["a"]}"#,
            "invalid_request", "query"
        ),
    ]

    @Test("bad request bodies", arguments: badBodies.indices)
    func badBody(case index: Int) async throws {
        let bad = Self.badBodies[index]
        try await withServer { client, _ in
            for path in ["/v1/rerank", "/v2/rerank"] {
                let response = try await client.execute(
                    uri: path, method: .post, headers: jsonHeaders, body: ByteBuffer(string: bad.body))
                #expect(response.status == .badRequest, "\(bad.name)")
                let error = try response.apiError()
                #expect(try response.decoded(ErrorBody.self).detail == error.message, "\(bad.name)")
                #expect(error.type == bad.type, "\(bad.name)")
                #expect(error.message.contains(bad.message), "\(bad.name): \(error.message)")
            }
        }
    }

    @Test("too many documents")
    func tooManyDocuments() async throws {
        var configuration = ServerConfiguration()
        configuration.maxDocuments = 2
        try await withServer(configuration: configuration) { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["a", "b", "c"]]))
            #expect(response.status == .badRequest)
            #expect(
                try response.apiError().message.contains("too many documents: 3 given, this server takes at most 2"))
        }
    }

    @Test("a body over the limit is 413")
    func bodyTooLarge() async throws {
        var configuration = ServerConfiguration()
        configuration.maxBodyBytes = 64
        try await withServer(configuration: configuration) { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": [String(repeating: "x", count: 200)]]))
            #expect(response.status == .contentTooLarge)
            #expect(try response.apiError().type == "payload_too_large")
        }
    }

    @Test("unknown routes are 404 with a JSON error")
    func notFound() async throws {
        try await withServer { client, _ in
            for (path, method) in [
                ("/nope", HTTPRequest.Method.get), ("/v3/rerank", .post), ("/static/missing.js", .get),
            ] {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status == .notFound)
                #expect(try response.apiError().type == "not_found")
            }
        }
    }

    @Test("a missing API key is 401 naming the header")
    func missingKey() async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = "k"
        try await withServer(configuration: configuration) { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["d"]]))
            #expect(response.status == .unauthorized)
            #expect(response.headers[.wwwAuthenticate] == "Bearer")
            #expect(try response.apiError().message.contains("Authorization: Bearer <key>"))
        }
    }

    @Test("a full waiting line is 429 with Retry-After")
    func rateLimited() async throws {
        var configuration = ServerConfiguration()
        configuration.maxConcurrent = 1
        configuration.maxWaiting = 0
        configuration.retryAfterSeconds = 3
        try await withServer(configuration: configuration) { client, parts in
            // Hold the only turn, as a long request would.
            #expect(await parts.controller.gate.enter())
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["d"]]))
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] == "3")
            let error = try response.apiError()
            #expect(error.type == "rate_limited")
            #expect(error.message.contains("at capacity"))
            await parts.controller.gate.leave()
            let after = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["d"]]))
            #expect(after.status == .ok)
        }
    }

    @Test("before warm-up ends, /ready and /v1/rerank are 503 not_ready; /health is 200")
    func notReady() async throws {
        let release = Flag()
        let engine = try TinyModel.engine()
        let (application, _) = try buildApplication(
            engine: engine, configuration: ServerConfiguration(),
            warmUp: { _ in while !release.isSet { Thread.sleep(forTimeInterval: 0.005) } })
        try await application.test(.router) { client in
            #expect(try await client.execute(uri: "/health", method: .get).status == .ok)
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(try ready.apiError().type == "not_ready")
            let rerank = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["d"]]))
            #expect(rerank.status == .serviceUnavailable)
            #expect(try rerank.apiError().message.contains("warming up"))
            release.set()
        }
    }
}

/// A flag one thread sets and another polls.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
