import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOHTTP1
import TensorKit

/// Turns every error into a JSON answer `{"error": {"message", "type"}}`, counts requests and errors,
/// logs each request with its id and sets `X-Request-Id`.
struct ObservabilityMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        var response: Response
        var errorType: String?
        do {
            response = try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error)
            if apiError.type == "internal_error" {
                context.logger.error("request failed", metadata: ["error": "\(error)"])
            }
            errorType = apiError.type
            response = try apiError.response(from: request, context: context)
        }
        response.headers[.requestID] = context.id
        let seconds = Double((ContinuousClock.now - started).nanoseconds) / 1e9
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(
            route: route, method: request.method.rawValue, status: response.status.code, seconds: seconds)
        if let errorType { metrics.recordError(type: errorType) }
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "path": .string(request.uri.path),
                "status": .stringConvertible(response.status.code),
                "ms": .string(String(format: "%.1f", seconds * 1000)),
            ].merging(errorType.map { ["error_type": .string($0)] } ?? [:]) { $1 })
        return response
    }

    static func apiError(for error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            return APIError.from(status: error.status, message: error.body)
        case let error as DecodingError:
            return APIError.invalidRequest(describe(error))
        case let error as HTTPParserError:
            return HTTPParseFailure(error).apiError
        case let error as any HTTPResponseError:
            return APIError.from(status: error.status, message: nil)
        case let error as ServerError:
            switch error {
            case .shuttingDown:
                return APIError(.serviceUnavailable, type: "shutting_down", message: error.description)
            case .timedOut:
                return APIError(.gatewayTimeout, type: "timeout", message: error.description)
            case .cancelled:
                return APIError(
                    .init(code: 499, reasonPhrase: "Client Closed Request"), type: "cancelled",
                    message: error.description)
            case .model:
                return APIError(.internalServerError, type: "model_error", message: error.description)
            case .engineResultCount:
                break
            }
            return APIError(.internalServerError, type: "internal_error", message: error.description)
        case let error as any DeviceMemoryError where error.isOutOfDeviceMemory:
            return APIError.deviceOutOfMemory("\(error)")
        default:
            return APIError(.internalServerError, type: "internal_error", message: "internal error: \(error)")
        }
    }

    /// A JSON decoding error as a person reads it: the field path and what was expected.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text.isEmpty ? "the body" : "field \(text)"
        }
        switch error {
        case let .keyNotFound(key, context):
            let parent = path(context.codingPath)
            return "missing field \"\(key.stringValue)\"" + (context.codingPath.isEmpty ? "" : " in \(parent)")
        case let .typeMismatch(_, context):
            return "\(path(context.codingPath)) has the wrong type: \(context.debugDescription)"
        case let .valueNotFound(_, context):
            return "\(path(context.codingPath)) is null but must have a value"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "the body is not valid JSON: send a JSON object" }
            return "\(path(context.codingPath)) is invalid: \(context.debugDescription)"
        @unknown default:
            return "the body could not be read as the expected JSON"
        }
    }
}

/// Requires `Authorization: Bearer <key>` on every route except `/health` and the static pages (`/`,
/// `/docs`, `/static/...`: browsers cannot send a Bearer header when they open a page; those pages ask
/// for the key and send it on their API calls).
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    static func isOpen(_ path: String) -> Bool {
        path == "/health" || path == "/" || path == "/docs" || path.hasPrefix("/static/")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if request.method == .options || Self.isOpen(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError(
                .unauthorized, type: "unauthorized",
                message: "this server needs an API key: send the header Authorization: Bearer <key>",
                headers: [.wwwAuthenticate: "Bearer"])
        }
        guard let presented = Self.bearerToken(header),
            constantTimeEqual(Array(presented.utf8), Array(key.utf8))
        else {
            throw APIError(
                .unauthorized, type: "unauthorized", message: "wrong API key (Authorization: Bearer <key>)",
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
        return try await next(request, context)
    }

    /// The token of an `Authorization: Bearer <token>` header; the scheme name is case-insensitive
    /// (RFC 9110, 11.1) and may be followed by several spaces. Nil for another scheme.
    static func bearerToken(_ header: String) -> String? {
        let trimmed = header.drop { $0 == " " }
        guard let space = trimmed.firstIndex(of: " "), trimmed[..<space].lowercased() == "bearer" else { return nil }
        let token = trimmed[space...].drop { $0 == " " }
        return String(token.reversed().drop { $0 == " " }.reversed())
    }

    private func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// CORS for the configured origins (`*` for any); answers preflight `OPTIONS` requests itself.
struct CORSOriginsMiddleware<Context: RequestContext>: RouterMiddleware {
    let origins: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let origin = request.headers[.origin] else { return try await next(request, context) }
        let allowed: String? = origins.contains("*") ? "*" : (origins.contains(origin) ? origin : nil)
        guard let allowed else { return try await next(request, context) }
        var response: Response
        if request.method == .options {
            response = Response(status: .noContent)
            response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            response.headers[.accessControlAllowHeaders] = "Authorization, Content-Type"
            response.headers[.accessControlMaxAge] = "600"
        } else {
            response = try await next(request, context)
            response.headers[.accessControlExposeHeaders] = "X-Request-Id, Retry-After"
        }
        response.headers[.accessControlAllowOrigin] = allowed
        if allowed != "*" { response.headers[.vary] = "Origin" }
        return response
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`: the request's id, echoed on every answer (a valid field name, so never nil).
    // swift-format-ignore: NeverForceUnwrap
    static let requestID = Self("X-Request-Id")!
}
