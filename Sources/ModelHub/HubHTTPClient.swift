import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The scheme, host and port of a URL: credentials are only ever sent back to the origin they belong to.
struct Origin: Equatable, Sendable {
    var scheme: String
    var host: String
    var port: Int

    init(_ url: URL) {
        scheme = url.scheme?.lowercased() ?? ""
        host = url.host?.lowercased() ?? ""
        port = url.port ?? (scheme == "https" ? 443 : 80)
    }
}

/// One HTTP exchange whose body has not been read yet.
struct HubResponse {
    var url: URL
    var status: Int
    var headers: HTTPHeaders
    var body: HTTPClientResponse.Body

    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// AsyncHTTPClient with the Hub's rules: redirects handled here (never by the client), and the token sent
/// only to the origin of the endpoint it was issued for, never to a CDN or another host after a redirect
/// (what `huggingface_hub` does when it downloads from a `Location` on another host).
struct HubHTTPClient: Sendable {
    let client: HTTPClient
    let token: String?
    let tokenOrigin: Origin
    static let maxRedirects = 10

    init(client: HTTPClient, token: String?, endpoint: URL) {
        self.client = client
        self.token = token
        self.tokenOrigin = Origin(endpoint)
    }

    /// A client with no automatic redirects and a read timeout that catches stalled transfers.
    static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(20), read: .seconds(120)))
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Runs `body` with a fresh client for `endpoint` (its token sent only there) and shuts the client down
    /// afterwards, whether `body` returns or throws.
    static func with<T: Sendable>(
        token: String?, endpoint: URL, _ body: (HubHTTPClient) async throws -> T
    ) async throws -> T {
        let client = makeClient()
        let http = HubHTTPClient(client: client, token: token, endpoint: endpoint)
        do {
            let result = try await body(http)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Sends `method` to `url`, following redirects: all of them when `followCrossOrigin`, else only those
    /// to the same origin (a renamed repository), leaving a redirect to a CDN for the caller to read.
    func send(
        _ method: HTTPMethod, _ url: URL, headers extra: [(String, String)] = [], followCrossOrigin: Bool
    ) async throws -> HubResponse {
        var current = url
        for _ in 0...Self.maxRedirects {
            var request = HTTPClientRequest(url: current.absoluteString)
            request.method = method
            request.headers.add(name: "User-Agent", value: "lychee-rerank/0.1; hf_hub-compatible")
            for (name, value) in extra { request.headers.add(name: name, value: value) }
            if let token, Origin(current) == tokenOrigin {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, deadline: .distantFuture)
            } catch {
                throw ModelHubError.transport(url: current.absoluteString, reason: "\(error)")
            }
            let status = Int(response.status.code)
            guard (300...399).contains(status), status != 304,
                let location = response.headers.first(name: "Location"),
                let target = URL(string: location, relativeTo: current)?.absoluteURL
            else {
                return HubResponse(url: current, status: status, headers: response.headers, body: response.body)
            }
            if !followCrossOrigin && Origin(target) != Origin(current) {
                return HubResponse(url: current, status: status, headers: response.headers, body: response.body)
            }
            current = target
        }
        throw ModelHubError.tooManyRedirects(url: url.absoluteString)
    }

    /// GETs a small JSON document (at most 64 MB) and checks the status.
    func getJSON(_ url: URL, what: String) async throws -> Data {
        let response = try await send(.GET, url, followCrossOrigin: true)
        try Self.check(response, what: what)
        do {
            var buffer = try await response.body.collect(upTo: 64 << 20)
            return Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch {
            throw ModelHubError.transport(url: url.absoluteString, reason: "\(error)")
        }
    }

    /// Throws the error a user can act on for a non-2xx reply.
    static func check(_ response: HubResponse, what: String) throws {
        guard !(200...299).contains(response.status) else { return }
        let serverSays = [response.header("X-Error-Code"), response.header("X-Error-Message")]
            .compactMap { $0 }.joined(separator: ": ")
        let detail = serverSays.isEmpty ? "" : " (server: \(serverSays))"
        let hint: String
        switch response.status {
        case 401, 403:
            hint =
                "\(what) is private or gated, or the token is wrong: accept its terms on the hub and set "
                + "HF_TOKEN (MODELSCOPE_API_TOKEN for ModelScope) to a token with read access"
        case 404:
            hint = "\(what) was not found: check the model id and --revision"
        case 416:
            hint = "the server refused the byte range of a partial download; run again to start that file anew"
        case 429:
            hint = "the hub is rate limiting requests; wait a few minutes, or set HF_TOKEN"
        case 500...599:
            hint = "the hub had a server error; try again later or use a mirror (HF_ENDPOINT)"
        default:
            hint = "unexpected reply for \(what)"
        }
        throw ModelHubError.httpStatus(url: response.url.absoluteString, status: response.status, hint: hint + detail)
    }
}
