import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Why an image URL was refused or could not be fetched.
public enum ImageFetchError: Error, CustomStringConvertible, Equatable {
    case badURL(String)
    case schemeNotAllowed(String)
    case hostNotAllowed(String)
    case credentialsInURL
    case unresolvable(String)
    case privateAddress(host: String, address: String)
    case tooManyRedirects(Int)
    case badStatus(Int)
    case tooLarge(limit: Int)
    case transport(String)

    public var description: String {
        switch self {
        case .badURL(let url): return "\(url) is not a valid URL"
        case .schemeNotAllowed(let scheme): return "scheme \(scheme) is not allowed; use http or https"
        case .hostNotAllowed(let host):
            return "host \(host) is not on the server's allow-list of image hosts (--allow-image-host)"
        case .credentialsInURL: return "URLs with a user name or password are not allowed"
        case .unresolvable(let host): return "host \(host) could not be resolved"
        case let .privateAddress(host, address):
            return "host \(host) resolves to \(address), a private, loopback or link-local address; refused"
        case .tooManyRedirects(let count): return "more than \(count) redirects"
        case .badStatus(let code): return "the image server answered HTTP \(code)"
        case .tooLarge(let limit): return "the image is larger than the server's limit of \(limit) bytes"
        case .transport(let message): return "the download failed: \(message)"
        }
    }
}

/// Rules for fetching image URLs.
public struct ImageURLPolicy: Sendable {
    /// Host names (lowercase, exact match) that images may come from.
    public var allowedHosts: Set<String>
    /// Largest image accepted, in bytes.
    public var maxBytes: Int = 10 << 20
    /// Time allowed for each request (connect, headers and body).
    public var timeout: Duration = .seconds(10)
    /// Redirects followed at most (each one checked like the first URL).
    public var maxRedirects: Int = 3

    public init(
        allowedHosts: Set<String>, maxBytes: Int = 10 << 20, timeout: Duration = .seconds(10), maxRedirects: Int = 3
    ) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.maxBytes = maxBytes
        self.timeout = timeout
        self.maxRedirects = maxRedirects
    }
}

/// Resolves host names to addresses.
public protocol HostResolving: Sendable {
    func addresses(of host: String) async throws -> [IPAddress]
}

/// One HTTP GET without following redirects.
public protocol ImageTransport: Sendable {
    /// Returns the status, the `Location` header and (for 200) the body, read up to `maxBytes`.
    func get(_ url: URL, maxBytes: Int, timeout: Duration) async throws -> (status: Int, location: String?, body: Data)
}

/// Fetches image URLs safely: allow-listed hosts only, every address the host resolves to must be public,
/// every redirect is checked the same way, with timeouts and a byte cap.
///
/// Limitation: the transport resolves the host again when it connects; a DNS server that answers
/// differently within that instant (DNS rebinding) is only caught by the allow-list.
public struct ImageURLFetcher: Sendable {
    public let policy: ImageURLPolicy
    let resolver: any HostResolving
    let transport: any ImageTransport

    public init(policy: ImageURLPolicy, resolver: any HostResolving, transport: any ImageTransport) {
        self.policy = policy
        self.resolver = resolver
        self.transport = transport
    }

    /// The image bytes at `string`.
    public func fetch(_ string: String) async throws -> Data {
        guard var url = URL(string: string) else { throw ImageFetchError.badURL(string) }
        for _ in 0...policy.maxRedirects {
            try await check(url)
            let answer: (status: Int, location: String?, body: Data)
            do {
                answer = try await transport.get(url, maxBytes: policy.maxBytes, timeout: policy.timeout)
            } catch let error as ImageFetchError {
                throw error
            } catch {
                throw ImageFetchError.transport("\(error)")
            }
            switch answer.status {
            case 200: return answer.body
            case 301, 302, 303, 307, 308:
                guard let location = answer.location, let next = URL(string: location, relativeTo: url)?.absoluteURL
                else { throw ImageFetchError.badStatus(answer.status) }
                url = next
            default: throw ImageFetchError.badStatus(answer.status)
            }
        }
        throw ImageFetchError.tooManyRedirects(policy.maxRedirects)
    }

    /// Refuses a URL whose scheme, host or addresses break the policy.
    func check(_ url: URL) async throws {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw ImageFetchError.schemeNotAllowed(url.scheme ?? "(none)")
        }
        guard url.user == nil && url.password == nil else { throw ImageFetchError.credentialsInURL }
        guard let host = url.host?.lowercased(), !host.isEmpty else { throw ImageFetchError.badURL(url.absoluteString) }
        guard policy.allowedHosts.contains(host) else { throw ImageFetchError.hostNotAllowed(host) }
        let addresses: [IPAddress]
        do {
            addresses = try await resolver.addresses(of: host)
        } catch {
            throw ImageFetchError.unresolvable(host)
        }
        guard !addresses.isEmpty else { throw ImageFetchError.unresolvable(host) }
        if let bad = addresses.first(where: { !$0.isPublic }) {
            throw ImageFetchError.privateAddress(host: host, address: bad.description)
        }
    }
}

/// The system resolver (getaddrinfo), run off the concurrency pool.
public struct SystemHostResolver: HostResolving {
    public init() {}

    public func addresses(of host: String) async throws -> [IPAddress] {
        let bracketless = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if let literal = IPAddress(bracketless) { return [literal] }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(bracketless, nil, &hints, &list)
                guard status == 0 else {
                    continuation.resume(throwing: ImageFetchError.unresolvable(host))
                    return
                }
                defer { freeaddrinfo(list) }
                var result = [IPAddress]()
                var node = list
                while let entry = node?.pointee {
                    if entry.ai_family == AF_INET, let address = entry.ai_addr {
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                            var raw = pointer.pointee.sin_addr
                            if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { result.append(ip) }
                        }
                    } else if entry.ai_family == AF_INET6, let address = entry.ai_addr {
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                            var raw = pointer.pointee.sin6_addr
                            if let ip = IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) }) { result.append(ip) }
                        }
                    }
                    node = entry.ai_next
                }
                continuation.resume(returning: result)
            }
        }
    }
}

/// GETs over async-http-client with redirects off (the fetcher follows and checks them itself).
public final class HTTPImageTransport: ImageTransport, Service {
    let client: HTTPClient

    public init() {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func get(_ url: URL, maxBytes: Int, timeout: Duration) async throws -> (
        status: Int, location: String?, body: Data
    ) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "Accept", value: "image/*")
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let status = Int(response.status.code)
        guard status == 200 else { return (status, response.headers.first(name: "location"), Data()) }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maxBytes {
            throw ImageFetchError.tooLarge(limit: maxBytes)
        }
        do {
            let body = try await response.body.collect(upTo: maxBytes)
            return (status, nil, Data(body.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw ImageFetchError.tooLarge(limit: maxBytes)
        }
    }

    /// Keeps the client until graceful shutdown, then closes it.
    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
