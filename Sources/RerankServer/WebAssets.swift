import Foundation
import Hummingbird
import NIOCore

/// The web page, the API docs page and the OpenAPI document, compiled into the binary
/// (`EmbeddedWebFiles`, generated from `Sources/RerankServer/Web` by `scripts/embed-web-assets.sh`) and served
/// from memory: the server needs no file beside it and nothing from a CDN.
struct WebAssets: Sendable {
    struct Asset: Sendable {
        var contentType: String
        var body: ByteBuffer
    }

    private let files: [String: Asset]

    /// Errors decoding the embedded files.
    enum LoadError: Error, CustomStringConvertible {
        case notBase64(String)
        var description: String {
            switch self {
            case .notBase64(let name):
                return "the embedded web file \(name) is not valid base64; run scripts/embed-web-assets.sh and rebuild"
            }
        }
    }

    /// The names of the embedded files, sorted.
    static var names: [String] { EmbeddedWebFiles.base64.keys.sorted() }

    /// Decodes every embedded file.
    static func load() throws -> WebAssets {
        var files = [String: Asset]()
        for (name, text) in EmbeddedWebFiles.base64 {
            guard let data = Data(base64Encoded: text) else { throw LoadError.notBase64(name) }
            files[name] = Asset(contentType: contentType(of: name), body: ByteBuffer(bytes: data))
        }
        return WebAssets(files: files)
    }

    /// The bytes of file `name`, if there is one.
    func bytes(of name: String) -> [UInt8]? {
        files[name].map { Array($0.body.readableBytesView) }
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": return "text/html; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json": return "application/json; charset=utf-8"
        case "svg": return "image/svg+xml"
        default: return "application/octet-stream"
        }
    }

    /// The answer for file `name`; 404 when there is no such file.
    func response(_ name: String) throws -> Response {
        guard let asset = files[name] else {
            throw APIError(.notFound, type: "not_found", message: "no such file: /static/\(name)")
        }
        return Response(
            status: .ok,
            headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
            body: .init(byteBuffer: asset.body))
    }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { _, _ in try response("index.html") }
        router.get("/docs") { _, _ in try response("docs.html") }
        router.get("/openapi.json") { _, _ in try response("openapi.json") }
        router.get("/static/:file") { _, context in try response(context.parameters.get("file") ?? "") }
    }
}
