import Foundation
import HTTPTypes
import Hummingbird

/// The routes a router ended up with, read once every route is registered (``record(_:)``), so that a
/// wrong method on a known path can be answered 405 with the methods the path does take.
final class RegisteredRoutes: @unchecked Sendable {
    private let lock = NSLock()
    private var routes = [(path: RouterPath, method: HTTPRequest.Method)]()

    /// Reads every route of `router`; call after the last route is added.
    func record<Context>(_ router: Router<Context>) {
        let found = router.routes.map { (path: $0.path, method: $0.method) }
        lock.withLock { routes = found }
    }

    /// The methods registered for `path`, sorted; empty when no route matches the path.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let all = lock.withLock { routes }
        let methods = Set(all.filter { Self.route($0.path, matches: segments) }.map(\.method.rawValue))
        return methods.sorted().compactMap { HTTPRequest.Method($0) }
    }

    /// Whether the route pattern `route` (with `:parameter`, `*` and `**` elements) matches `segments`.
    static func route(_ route: RouterPath, matches segments: [Substring]) -> Bool {
        var index = 0
        for element in route.components {
            if element == .recursiveWildcard { return true }
            guard index < segments.count, element ~= segments[index] else { return false }
            index += 1
        }
        return index == segments.count
    }
}

/// Turns the router's "no route" answer into 405 Method Not Allowed with an `Allow` header when the path
/// is known but takes other methods (the routes come from the router itself, so routes added later are
/// covered without a list to keep up to date).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: RegisteredRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = routes.methods(for: request.uri.path)
            guard !allowed.isEmpty, !allowed.contains(request.method) else { throw error }
            let list = allowed.map(\.rawValue).joined(separator: ", ")
            throw APIError(
                .methodNotAllowed, type: "method_not_allowed",
                message: "\(request.uri.path) does not take \(request.method.rawValue); it takes \(list)",
                headers: [.allow: list])
        }
    }
}
