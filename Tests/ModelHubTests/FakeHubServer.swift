import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A request the fake hub received.
struct RecordedRequest: Sendable {
    var method: String
    var uri: String
    var host: String
    var authorization: String?
    var range: String?
}

/// What the fake hub does wrong on purpose, keyed by repository file path.
struct Misbehaviour: Sendable {
    /// Close the connection after this many body bytes, for the next `times` GETs of the file.
    var dropAfter: [String: (bytes: Int, times: Int)] = [:]
    /// Serve flipped bytes for the next `n` GETs of the file.
    var corrupt: [String: Int] = [:]
}

/// An HTTP server on 127.0.0.1 that speaks the Hugging Face Hub's download protocol (API listing,
/// `resolve` with HEAD, 302 to a CDN on another host name for LFS files, ETag / X-Linked-Etag /
/// X-Linked-Size / X-Repo-Commit, Range with 206 and Content-Range) and ModelScope's
/// (`/api/v1/models/{id}/repo/files`, `/api/v1/models/{id}/repo?FilePath=`).
final class FakeHubServer: Sendable {
    let repositories: [String: FakeRepository]
    /// A path prefix all Hub routes live under (a mirror like `https://host/prefix`).
    let prefix: String
    let requests = NIOLockedValueBox<[RecordedRequest]>([])
    let misbehaviour = NIOLockedValueBox(Misbehaviour())
    private let channel: NIOLockedValueBox<(any Channel)?> = NIOLockedValueBox(nil)
    private let boundPort = NIOLockedValueBox(0)

    var port: Int { boundPort.withLockedValue { $0 } }
    /// The Hub endpoint (what HF_ENDPOINT would be).
    var endpoint: String { "http://127.0.0.1:\(port)\(prefix)" }
    /// The ModelScope endpoint (what MODELSCOPE_DOMAIN would be, with its scheme).
    var modelScopeEndpoint: String { "http://127.0.0.1:\(port)" }

    init(repositories: [FakeRepository], prefix: String = "") {
        self.repositories = Dictionary(uniqueKeysWithValues: repositories.map { ($0.id, $0) })
        self.prefix = prefix
    }

    func start() async throws {
        let bound = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeHubHandler(server: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        boundPort.withLockedValue { $0 = bound.localAddress?.port ?? 0 }
        channel.withLockedValue { $0 = bound }
    }

    func stop() async {
        let bound = channel.withLockedValue { $0 }
        try? await bound?.close()
    }

    /// Requests whose URI contains `fragment`.
    func requests(containing fragment: String) -> [RecordedRequest] {
        requests.withLockedValue { $0.filter { $0.uri.contains(fragment) } }
    }

    // MARK: Routing

    struct Reply {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body = Data()
        /// Close the connection after this many body bytes.
        var dropAfter: Int?
    }

    func respond(method: HTTPMethod, uri: String, headers: HTTPHeaders) -> Reply {
        requests.withLockedValue {
            $0.append(
                RecordedRequest(
                    method: method.rawValue, uri: uri, host: headers.first(name: "Host") ?? "",
                    authorization: headers.first(name: "Authorization"), range: headers.first(name: "Range")))
        }
        let (path, query) = Self.split(uri)
        if path.hasPrefix("/api/v1/models/") { return modelScope(path: path, query: query, headers: headers) }
        if path.hasPrefix("/cdn/") { return cdn(path: path, headers: headers) }
        guard path.hasPrefix(prefix + "/") else { return Reply(status: .notFound) }
        let route = String(path.dropFirst(prefix.count + 1))
        if route.hasPrefix("api/models/") { return listing(route.dropFirst("api/models/".count), headers: headers) }
        return resolve(route, method: method, headers: headers)
    }

    private func listing(_ route: Substring, headers: HTTPHeaders) -> Reply {
        let parts = route.split(separator: "/", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[2] == "revision", let repo = repositories["\(parts[0])/\(parts[1])"] else {
            return Reply(status: .notFound, headers: [("X-Error-Code", "RepoNotFound")])
        }
        if let denied = authorize(repo, headers) { return denied }
        let revision = parts[3].removingPercentEncoding ?? parts[3]
        guard revision == "main" || revision == repo.commit else {
            return Reply(status: .notFound, headers: [("X-Error-Code", "RevisionNotFound")])
        }
        let siblings = repo.files.keys.sorted().map { ["rfilename": $0] }
        let object: [String: Any] = ["_id": "abc", "id": repo.id, "sha": repo.commit, "siblings": siblings]
        let body = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return Reply(status: .ok, headers: [("Content-Type", "application/json")], body: body)
    }

    private func resolve(_ route: String, method: HTTPMethod, headers: HTTPHeaders) -> Reply {
        let parts = route.split(separator: "/", maxSplits: 4).map(String.init)
        guard parts.count == 5, parts[2] == "resolve", let repo = repositories["\(parts[0])/\(parts[1])"] else {
            return Reply(status: .notFound, headers: [("X-Error-Code", "RepoNotFound")])
        }
        if let denied = authorize(repo, headers) { return denied }
        let file = parts[4].removingPercentEncoding ?? parts[4]
        guard parts[3] == "main" || parts[3] == repo.commit, let data = repo.files[file], let etag = repo.etag(file)
        else {
            return Reply(status: .notFound, headers: [("X-Error-Code", "EntryNotFound")])
        }
        if repo.lfsFiles.contains(file) {
            return Reply(
                status: .found,
                headers: [
                    ("Location", "http://localhost:\(port)/cdn/\(etag)"), ("X-Linked-Etag", "\"\(etag)\""),
                    ("X-Linked-Size", "\(data.count)"), ("X-Repo-Commit", repo.commit), ("ETag", "\"lfs-pointer\""),
                ])
        }
        var reply = ranged(data, file: file, headers: headers)
        reply.headers += [("ETag", "\"\(etag)\""), ("X-Repo-Commit", repo.commit)]
        return reply
    }

    private func cdn(path: String, headers: HTTPHeaders) -> Reply {
        let sha = String(path.dropFirst("/cdn/".count))
        for repo in repositories.values {
            for (file, data) in repo.files where repo.lfsFiles.contains(file) && repo.etag(file) == sha {
                return ranged(data, file: file, headers: headers)
            }
        }
        return Reply(status: .notFound)
    }

    private func modelScope(path: String, query: [String: String], headers: HTTPHeaders) -> Reply {
        let parts = path.dropFirst("/api/v1/models/".count).split(separator: "/").map(String.init)
        guard parts.count >= 3, let repo = repositories["\(parts[0])/\(parts[1])"] else {
            return Reply(status: .notFound, body: Data(#"{"Code":10010205001,"Message":"model not found"}"#.utf8))
        }
        if parts[2...] == ["repo", "files"] {
            let files: [[String: Any]] = repo.files.keys.sorted().map { file in
                let data = repo.files[file] ?? Data()
                return [
                    "Name": (file as NSString).lastPathComponent, "Path": file, "Type": "blob", "Size": data.count,
                    "Sha256": FakeRepository.sha256(data), "Revision": repo.commit,
                ]
            }
            let object: [String: Any] = ["Code": 200, "Data": ["Files": files], "Success": true]
            return Reply(status: .ok, body: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())
        }
        guard parts[2...] == ["repo"], let file = query["FilePath"], let data = repo.files[file] else {
            return Reply(status: .notFound)
        }
        return ranged(data, file: file, headers: headers)
    }

    private func authorize(_ repo: FakeRepository, _ headers: HTTPHeaders) -> Reply? {
        guard let token = repo.requiredToken, headers.first(name: "Authorization") != "Bearer \(token)" else {
            return nil
        }
        return Reply(status: .unauthorized, headers: [("X-Error-Code", "GatedRepo")])
    }

    /// The file's bytes with Range support and the planned misbehaviour applied.
    private func ranged(_ original: Data, file: String, headers: HTTPHeaders) -> Reply {
        var data = original
        let corrupt = misbehaviour.withLockedValue { state -> Bool in
            guard let left = state.corrupt[file], left > 0 else { return false }
            state.corrupt[file] = left - 1
            return true
        }
        if corrupt, !data.isEmpty { data[data.count / 2] ^= 0xFF }
        let drop = misbehaviour.withLockedValue { state -> Int? in
            guard let plan = state.dropAfter[file], plan.times > 0 else { return nil }
            state.dropAfter[file] = (plan.bytes, plan.times - 1)
            return plan.bytes
        }
        var reply = Reply(status: .ok, headers: [("Accept-Ranges", "bytes")], body: data, dropAfter: drop)
        if let range = headers.first(name: "Range"), range.hasPrefix("bytes="),
            let start = Int(range.dropFirst(6).prefix { $0 != "-" })
        {
            guard start < data.count else {
                return Reply(status: .rangeNotSatisfiable, headers: [("Content-Range", "bytes */\(data.count)")])
            }
            reply.status = .partialContent
            reply.body = data.subdata(in: start..<data.count)
            reply.headers.append(("Content-Range", "bytes \(start)-\(data.count - 1)/\(data.count)"))
            reply.dropAfter = drop.map { max($0 - start, 0) }
        }
        return reply
    }

    static func split(_ uri: String) -> (String, [String: String]) {
        let pieces = uri.split(separator: "?", maxSplits: 1).map(String.init)
        var query: [String: String] = [:]
        for pair in (pieces.count > 1 ? pieces[1] : "").split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if kv.count == 2 { query[kv[0]] = kv[1] }
        }
        return (pieces.first ?? "", query)
    }
}

/// Reads one request, asks the server for the reply, writes it (or drops the connection mid-body).
final class FakeHubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let server: FakeHubServer
    var head: HTTPRequestHead?

    init(server: FakeHubServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let reply = server.respond(method: head.method, uri: head.uri, headers: head.headers)
            var headers = HTTPHeaders(reply.headers)
            headers.replaceOrAdd(name: "Content-Length", value: "\(reply.body.count)")
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: reply.status, headers: headers))),
                promise: nil)
            if head.method == .HEAD {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            let sent = reply.dropAfter.map { min($0, reply.body.count) } ?? reply.body.count
            let body = wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: reply.body.prefix(sent)))))
            if reply.dropAfter != nil {
                // Close only once the partial body is on the wire, so the client sees exactly `sent` bytes.
                let channel = context.channel
                context.writeAndFlush(body).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            context.write(body, promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
