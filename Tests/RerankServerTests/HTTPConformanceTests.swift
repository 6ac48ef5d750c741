import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import RerankServer

/// HTTP semantics clients rely on: 405 with `Allow`, case-insensitive auth scheme, messages that name
/// the field and the problem.
@Suite("HTTP conformance")
struct HTTPConformanceTests {
    static let wrongMethods: [(method: HTTPRequest.Method, path: String, allow: String)] = [
        (.post, "/health", "GET"),
        (.get, "/v1/rerank", "POST"),
        (.put, "/v2/rerank", "POST"),
        (.delete, "/static/app.js", "GET"),
        (.post, "/", "GET"),
    ]

    @Test("a known path called with another method is 405 with Allow", arguments: wrongMethods.indices)
    func wrongMethod(case index: Int) async throws {
        let wrong = Self.wrongMethods[index]
        try await withServer { client, _ in
            let response = try await client.execute(uri: wrong.path, method: wrong.method)
            #expect(response.status == .methodNotAllowed, "\(wrong.method) \(wrong.path)")
            #expect(response.headers[.allow] == wrong.allow, "\(wrong.method) \(wrong.path)")
            let error = try response.apiError()
            #expect(error.type == "method_not_allowed")
            #expect(error.message.contains(wrong.allow))
        }
    }

    @Test("an unknown path is still 404")
    func unknownPath() async throws {
        try await withServer { client, _ in
            let response = try await client.execute(uri: "/no/such/route", method: .post)
            #expect(response.status == .notFound)
            #expect(response.headers[.allow] == nil)
        }
    }

    @Test("the Bearer scheme is case-insensitive", arguments: ["bearer", "BEARER", "Bearer", "bEaReR"])
    func bearerAnyCase(scheme: String) async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = "secret"
        try await withServer(configuration: configuration) { client, _ in
            let accepted = try await client.execute(
                uri: "/ready", method: .get, headers: [.authorization: "\(scheme) secret"])
            #expect(accepted.status == .ok, "\(scheme)")
            let wrongKey = try await client.execute(
                uri: "/ready", method: .get, headers: [.authorization: "\(scheme) nope"])
            #expect(wrongKey.status == .unauthorized)
        }
    }

    @Test("another scheme with the right key is refused")
    func otherScheme() async throws {
        var configuration = ServerConfiguration()
        configuration.apiKey = "secret"
        try await withServer(configuration: configuration) { client, _ in
            let response = try await client.execute(
                uri: "/ready", method: .get, headers: [.authorization: "Basic secret"])
            #expect(response.status == .unauthorized)
        }
    }

    @Test("a fractional top_n names the field and the problem", arguments: ["/v1/rerank", "/v2/rerank"])
    func fractionalTopN(path: String) async throws {
        try await withServer { client, _ in
            for (field, value) in [("top_n", "1.5"), ("max_tokens_per_doc", "2.25"), ("top_n", "1e30")] {
                let response = try await client.execute(
                    uri: path, method: .post, headers: jsonHeaders,
                    body: ByteBuffer(string: #"{"query":"q","documents":["a"],"\#(field)":\#(value)}"#))
                #expect(response.status == .badRequest)
                let message = try response.apiError().message
                #expect(message.contains("field \(field)"), "\(message)")
                #expect(message.contains("whole number"), "\(message)")
            }
            // A whole number written with a fraction part is fine.
            let response = try await client.execute(
                uri: path, method: .post, headers: jsonHeaders,
                body: ByteBuffer(string: #"{"query":"q","documents":["a","b"],"top_n":1.0}"#))
            #expect(response.status == .ok)
        }
    }

    static let invalidUTF8: [(json: String, field: String)] = [
        (#"{"query":"q\#u{1}","documents":["a"]}"#, "field query "),
        (#"{"query":"q","documents":["a","b\#u{1}"]}"#, "field documents[1] "),
        (#"{"query":"q","documents":["a",{"text":"\#u{1}"}]}"#, "field documents[1].text "),
    ]

    @Test("invalid UTF-8 names the field", arguments: invalidUTF8.indices)
    func invalidUTF8NamesTheField(case index: Int) async throws {
        let bad = Self.invalidUTF8[index]
        // The marker byte 0x01 becomes 0xFF, which never occurs in UTF-8.
        let bytes = Array(bad.json.utf8).map { $0 == 0x01 ? 0xFF : $0 }
        try await withServer { client, _ in
            let response = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: bytes))
            #expect(response.status == .badRequest)
            let message = try response.apiError().message
            #expect(message.contains(bad.field + "is not valid UTF-8"), "\(message)")
        }
    }

    @Test("the UTF-8 check follows the standard's rules")
    func utf8Validation() {
        #expect(RequestBodyCheck.firstInvalidUTF8Offset(Array("héllo ✓ 𝄞".utf8)) == nil)
        #expect(RequestBodyCheck.firstInvalidUTF8Offset([0x61, 0xC0, 0x80]) == 1)  // overlong
        #expect(RequestBodyCheck.firstInvalidUTF8Offset([0xED, 0xA0, 0x80]) == 0)  // surrogate
        #expect(RequestBodyCheck.firstInvalidUTF8Offset([0x61, 0x62, 0xE2, 0x9C]) == 2)  // cut short
        #expect(RequestBodyCheck.firstInvalidUTF8Offset([0xF4, 0x90, 0x80, 0x80]) == 0)  // above U+10FFFF
        // Long ASCII runs (passed over eight bytes at a time): the first bad byte at every offset modulo 8, after
        // and between multi-byte characters.
        for offset in 1000..<1017 {
            var body = Array(repeating: UInt8(ascii: "A"), count: 1100)
            body.replaceSubrange(3..<6, with: Array("✓".utf8))
            body[offset] = 0xFF
            #expect(RequestBodyCheck.firstInvalidUTF8Offset(body) == offset)
            body[offset] = 0xC3  // a lead byte whose continuation is missing
            #expect(RequestBodyCheck.firstInvalidUTF8Offset(body) == offset)
        }
        let mixed = Array(
            (String(repeating: "abcdefgh", count: 300) + "héllo" + String(repeating: "z", count: 13)).utf8)
        #expect(RequestBodyCheck.firstInvalidUTF8Offset(mixed) == nil)
    }
}
