import Foundation
import HummingbirdTesting
import NIOCore
import TestSupport
import Testing

@testable import RerankServer

/// A resolver with fixed answers.
struct FakeResolver: HostResolving {
    var answers: [String: [String]]
    func addresses(of host: String) async throws -> [IPAddress] {
        guard let list = answers[host] else { throw ImageFetchError.unresolvable(host) }
        return list.compactMap(IPAddress.init)
    }
}

/// A transport with fixed answers per URL, recording what it was asked.
final class FakeTransport: ImageTransport, @unchecked Sendable {
    let answers: [String: (Int, String?, Data)]
    private let lock = NSLock()
    private var _asked = [String]()
    init(_ answers: [String: (Int, String?, Data)]) { self.answers = answers }
    var asked: [String] { lock.withLock { _asked } }
    func get(_ url: URL, maxBytes: Int, timeout: Duration) async throws -> (status: Int, location: String?, body: Data)
    {
        lock.withLock { _asked.append(url.absoluteString) }
        guard let answer = answers[url.absoluteString] else { return (404, nil, Data()) }
        guard answer.2.count <= maxBytes else { throw ImageFetchError.tooLarge(limit: maxBytes) }
        return answer
    }
}

@Suite("Image URLs")
struct ImageURLTests {
    @Test(
        "public and non-public addresses",
        arguments: [
            ("93.184.216.34", true), ("8.8.8.8", true), ("2606:4700::1111", true),
            ("127.0.0.1", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.31.255.255", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false), ("224.0.0.1", false),
            ("255.255.255.255", false), ("198.18.0.1", false), ("::1", false), ("::", false), ("fe80::1", false),
            ("fd00::1", false), ("ff02::1", false), ("::ffff:127.0.0.1", false), ("::ffff:8.8.8.8", true),
            ("64:ff9b::a00:1", false), ("2001:db8::1", false), ("2002:7f00:1::", false),
        ])
    func addressPolicy(address: String, isPublic: Bool) throws {
        let ip = try #require(IPAddress(address))
        #expect(ip.isPublic == isPublic, "\(address)")
    }

    static let png =
        Data(
            base64Encoded:
                "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8//8/AwMDEwMDAwMDAwAkBgMB/DXemwAAAABJRU5ErkJggg=="
        ) ?? Data()

    func fetcher(_ transport: FakeTransport, maxBytes: Int = 1 << 20) -> ImageURLFetcher {
        ImageURLFetcher(
            policy: ImageURLPolicy(
                allowedHosts: ["img.example", "evil.example", "meta.example"], maxBytes: maxBytes, maxRedirects: 2),
            resolver: FakeResolver(answers: [
                "img.example": ["93.184.216.34"], "evil.example": ["93.184.216.35", "127.0.0.1"],
                "meta.example": ["169.254.169.254"],
            ]),
            transport: transport)
    }

    @Test(
        "refusals, each before any connection",
        arguments: [
            ("ftp://img.example/a.png", "scheme ftp is not allowed"),
            ("http://other.example/a.png", "host other.example is not on the server's allow-list"),
            ("http://user:pw@img.example/a.png", "user name or password"),
            ("http://evil.example/a.png", "resolves to 127.0.0.1"),
            ("http://meta.example/latest", "resolves to 169.254.169.254"),
            ("http://127.0.0.1/a.png", "host 127.0.0.1 is not on the server's allow-list"),
        ])
    func refusals(url: String, message: String) async throws {
        let transport = FakeTransport([:])
        await #expect {
            try await fetcher(transport).fetch(url)
        } throws: { error in
            "\(error)".contains(message)
        }
        #expect(transport.asked.isEmpty)
    }

    @Test("a redirect to a private address is refused; too many redirects stop")
    func redirects() async throws {
        let toMetadata = FakeTransport(["http://img.example/a.png": (302, "http://meta.example/latest", Data())])
        await #expect { try await fetcher(toMetadata).fetch("http://img.example/a.png") } throws: {
            "\($0)".contains("169.254.169.254")
        }
        #expect(toMetadata.asked == ["http://img.example/a.png"])

        let loop = FakeTransport([
            "http://img.example/1": (302, "/2", Data()), "http://img.example/2": (302, "/3", Data()),
            "http://img.example/3": (302, "/4", Data()),
        ])
        await #expect { try await fetcher(loop).fetch("http://img.example/1") } throws: {
            "\($0)".contains("more than 2 redirects")
        }
        let fine = FakeTransport([
            "http://img.example/1": (301, "https://img.example/b.png", Data()),
            "https://img.example/b.png": (200, nil, Self.png),
        ])
        #expect(try await fetcher(fine).fetch("http://img.example/1") == Self.png)
    }

    @Test("the byte cap and bad statuses")
    func capAndStatus() async throws {
        let big = FakeTransport(["http://img.example/big.png": (200, nil, Data(count: 5000))])
        await #expect { try await fetcher(big, maxBytes: 1000).fetch("http://img.example/big.png") } throws: {
            "\($0)".contains("larger than the server's limit of 1000 bytes")
        }
        let missing = FakeTransport([:])
        await #expect { try await fetcher(missing).fetch("http://img.example/none.png") } throws: {
            "\($0)".contains("HTTP 404")
        }
    }

    @Test("through the API: an allowed URL is fetched and scored; a refused one is 400 image_fetch_failed")
    func throughTheAPI() async throws {
        let transport = FakeTransport(["http://img.example/a.png": (200, nil, Self.png)])
        var configuration = ServerConfiguration()
        configuration.imageFetcher = fetcher(transport)
        try await withServer(configuration: configuration) { client, _ in
            let good = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": [["image": "http://img.example/a.png"]]]))
            #expect(good.status == .ok)
            let bad = try await client.execute(
                uri: "/v1/rerank", method: .post, headers: jsonHeaders,
                body: try body(["query": "q", "documents": ["a", ["image": "http://meta.example/x"]]]))
            #expect(bad.status == .badRequest)
            let error = try bad.apiError()
            #expect(error.type == "image_fetch_failed")
            #expect(error.message.contains("documents[1].image: host meta.example resolves to 169.254.169.254"))
        }
    }
}

@Suite("Admission gate")
struct AdmissionGateTests {
    @Test("turns, a bounded waiting line, and hand-over in order")
    func gate() async throws {
        let gate = AdmissionGate(maxConcurrent: 1, maxWaiting: 1)
        #expect(await gate.enter())
        let waiter = Task { await gate.enter() }
        while await gate.waiting == 0 { await Task.yield() }
        #expect(await gate.enter() == false)  // line full
        await gate.leave()
        #expect(await waiter.value)
        #expect(await gate.active == 1)
        await gate.leave()
        #expect(await gate.active == 0)
    }
}
