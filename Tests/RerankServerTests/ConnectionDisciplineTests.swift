import Foundation
import Testing

@testable import RerankServer

/// Real sockets against the real server pipeline: timeouts, the body limit and parser errors.
@Suite("Connection discipline", .timeLimit(.minutes(1)))
struct ConnectionDisciplineTests {
    static func configuration(
        idle: Duration = .seconds(30), header: Duration = .seconds(30), body: Duration = .seconds(30),
        maxBody: Int = 32 << 20
    ) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.idleTimeout = idle
        configuration.headerTimeout = header
        configuration.bodyTimeout = body
        configuration.maxBodyBytes = maxBody
        return configuration
    }

    @Test("a silent connection is closed after the idle timeout")
    func idleConnectionClosed() async throws {
        try await withLiveServer(configuration: Self.configuration(idle: .milliseconds(300))) { port in
            let connection = try RawConnection(port: port)
            let (bytes, closed) = await connection.readUntilClosed(timeout: .seconds(5))
            #expect(closed, "the server kept a silent connection open for 5 s")
            #expect(bytes.isEmpty)
        }
    }

    @Test("keep-alive requests within the timeouts are answered on one connection")
    func keepAliveStillWorks() async throws {
        try await withLiveServer(configuration: Self.configuration(idle: .seconds(2))) { port in
            let connection = try RawConnection(port: port)
            for _ in 0..<2 {
                connection.send("GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
                let answer = await connection.readAnswer(timeout: .seconds(5))
                #expect(answer?.status == 200)
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    @Test("a request head that does not finish in time gets 408 and the connection closes")
    func slowHeaders() async throws {
        try await withLiveServer(configuration: Self.configuration(header: .milliseconds(300))) { port in
            let connection = try RawConnection(port: port)
            connection.send("POST /v1/rerank HTTP/1.1\r\nHost: test\r\nContent-Type: app")
            let answer = try #require(await connection.readAnswer(timeout: .seconds(5)), "no answer within 5 s")
            #expect(answer.status == 408)
            #expect(try answer.apiError().type == "request_timeout")
            #expect(try answer.apiError().message.contains("request line and headers"))
            #expect(await connection.readUntilClosed(timeout: .seconds(5)).closed)
        }
    }

    @Test("a body that does not finish in time gets 408 and the connection closes")
    func slowBody() async throws {
        try await withLiveServer(configuration: Self.configuration(body: .milliseconds(300))) { port in
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /v1/rerank HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100\r\n\r\n{\"query\"")
            let answer = try #require(await connection.readAnswer(timeout: .seconds(5)), "no answer within 5 s")
            #expect(answer.status == 408)
            #expect(try answer.apiError().message.contains("request body"))
            #expect(await connection.readUntilClosed(timeout: .seconds(5)).closed)
        }
    }

    @Test("a Content-Length over the limit is answered 413 at once, without reading the body")
    func declaredBodyTooLarge() async throws {
        try await withLiveServer(configuration: Self.configuration(maxBody: 1024)) { port in
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /v1/rerank HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 64000000\r\n\r\n")
            let answer = try #require(await connection.readAnswer(timeout: .seconds(3)), "no answer within 3 s")
            #expect(answer.status == 413)
            #expect(answer.headers["connection"] == "close")
            #expect(try answer.apiError().type == "payload_too_large")
            #expect(try answer.apiError().message.contains("64000000"))
            #expect(await connection.readUntilClosed(timeout: .seconds(5)).closed)
        }
    }

    @Test("a chunked body growing over the limit is answered 413 and the connection closes")
    func chunkedBodyTooLarge() async throws {
        try await withLiveServer(configuration: Self.configuration(maxBody: 1024)) { port in
            let connection = try RawConnection(port: port)
            let chunk = String(repeating: "x", count: 2048)
            connection.send(
                "POST /v1/rerank HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n800\r\n\(chunk)\r\n")
            let answer = try #require(await connection.readAnswer(timeout: .seconds(3)), "no answer within 3 s")
            #expect(answer.status == 413)
            #expect(answer.headers["connection"] == "close")
            #expect(await connection.readUntilClosed(timeout: .seconds(5)).closed)
        }
    }

    static let malformed: [(name: String, request: String, status: Int, message: String)] = [
        ("bad request line", "GARBAGE\r\n\r\n", 400, "request"),
        (
            "Content-Length not a number", "POST /v1/rerank HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400,
            "Content-Length"
        ),
        (
            "Content-Length twice",
            "POST /v1/rerank HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
            "more than once"
        ),
        (
            "huge headers",
            "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 100_000))\r\n\r\n",
            431, "headers are larger"
        ),
    ]

    @Test("parser-level refusals carry a JSON error body", arguments: malformed.indices)
    func parserErrorsHaveJSONBodies(case index: Int) async throws {
        let bad = Self.malformed[index]
        try await withLiveServer { port in
            let connection = try RawConnection(port: port)
            connection.send(bad.request)
            let answer = try #require(await connection.readAnswer(timeout: .seconds(5)), "\(bad.name): no answer")
            #expect(answer.status == bad.status, "\(bad.name)")
            #expect(answer.headers["content-type"]?.hasPrefix("application/json") == true, "\(bad.name)")
            let error = try answer.apiError()
            #expect(error.message.contains(bad.message), "\(bad.name): \(error.message)")
            #expect(await connection.readUntilClosed(timeout: .seconds(5)).closed, "\(bad.name)")
        }
    }

    @Test("a malformed chunk size is 400 with a message, not 500")
    func malformedChunkSize() async throws {
        try await withLiveServer { port in
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /v1/rerank HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            let answer = try #require(await connection.readAnswer(timeout: .seconds(5)), "no answer within 5 s")
            #expect(answer.status == 400)
            let error = try answer.apiError()
            #expect(error.type == "invalid_request")
            #expect(error.message.contains("chunk size"), "\(error.message)")
        }
    }
}

/// A client that goes away has its request's pending work dropped.
@Suite("Client disconnects", .timeLimit(.minutes(2)))
struct ClientDisconnectTests {
    @Test("closing the connection mid-request cancels the request and empties its queue")
    func disconnectCancels() async throws {
        var configuration = ServerConfiguration()
        configuration.tokenBudget = 256
        try await withLiveServer(configuration: configuration) { port in
            let documents = (0..<200).map { String(repeating: "word\($0) ", count: 200) }
            let body = String(
                decoding: try JSONSerialization.data(withJSONObject: ["query": "q", "documents": documents]),
                as: UTF8.self)
            do {
                let connection = try RawConnection(port: port)
                connection.send(
                    "POST /v1/rerank HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                        + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
                try await Task.sleep(for: .milliseconds(500))
                // The connection closes here, long before 200 long documents are scored at 256 tokens a pass.
            }
            // The watch notices within 50 ms; a busy machine may take longer to run it, so poll a while.
            var metrics = ""
            for _ in 0..<40 {
                try await Task.sleep(for: .milliseconds(250))
                let probe = try RawConnection(port: port)
                probe.send("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
                metrics = await probe.readAnswer(timeout: .seconds(5))?.body ?? ""
                if metrics.contains("lychee_requests_cancelled_total 1") && metrics.contains("lychee_queue_pairs 0") {
                    break
                }
            }
            #expect(metrics.contains("lychee_requests_cancelled_total 1"), "\(metrics.prefix(2000))")
            #expect(metrics.contains("lychee_queue_pairs 0"))
        }
    }
}
