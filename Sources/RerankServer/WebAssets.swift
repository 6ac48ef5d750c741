import Foundation
import Hummingbird
import NIOCore

/// The web page, the API docs page and the OpenAPI document, read once from the package's resources
/// (`Sources/RerankServer/Web`) and served from memory; nothing comes from a CDN.
struct WebAssets: Sendable {
    struct Asset: Sendable {
        var contentType: String
        var body: ByteBuffer
    }

    private let files: [String: Asset]

    /// Errors loading the resources.
    enum LoadError: Error, CustomStringConvertible {
        case missing(String)
        var description: String {
            switch self {
            case .missing(let name):
                return "the server's web resource \(name) is missing; reinstall lychee-rerank with its resource bundle"
            }
        }
    }

    static let names = ["index.html", "app.js", "style.css", "docs.html", "docs.js", "openapi.json", "favicon.svg"]

    /// Reads every file in ``names`` from the module bundle.
    static func load() throws -> WebAssets {
        var files = [String: Asset]()
        for name in names {
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            guard let url = Bundle.module.url(forResource: parts[0], withExtension: parts[1], subdirectory: "Web"),
                let data = try? Data(contentsOf: url)
            else { throw LoadError.missing(name) }
            files[name] = Asset(contentType: contentType(of: name), body: ByteBuffer(bytes: data))
        }
        return WebAssets(files: files)
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
