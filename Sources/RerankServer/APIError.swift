import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An error answer: an HTTP status and the JSON body `{"error": {"message", "type"}, "detail": message}`
/// (`detail` is what Jina-style clients read).
public struct APIError: HTTPResponseError, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable, machine-readable kind: `invalid_request`, `unauthorized`, `not_found`, `rate_limited`, ...
    public var type: String
    /// What was wrong and what to do, for a person.
    public var message: String
    /// Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields

    /// An error answer.
    public init(_ status: HTTPResponse.Status, type: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// A request the server cannot use (bad JSON, bad field, bad image...).
    static func invalidRequest(_ message: String) -> APIError {
        APIError(.badRequest, type: "invalid_request", message: message)
    }

    /// The server is at capacity; the client should retry after `seconds`.
    static func rateLimited(retryAfter seconds: Int, message: String) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        return APIError(.tooManyRequests, type: "rate_limited", message: message, headers: headers)
    }

    /// The GPU had no memory left for a request even scored one pair at a time: 503, retry later.
    static func deviceOutOfMemory(_ detail: String) -> APIError {
        APIError(
            .serviceUnavailable, type: "device_out_of_memory",
            message: "the GPU had no memory left for this request, even one document at a time (\(detail)); "
                + "retry later, send fewer or smaller images per request, or start the server with a higher "
                + "--gpu-memory-limit-gib or a lower --token-budget",
            headers: [.retryAfter: "1"])
    }

    /// The model is not warmed up yet.
    static let notReady = APIError(
        .serviceUnavailable, type: "not_ready",
        message: "the model is still loading or warming up; retry in a few seconds (GET /ready says when)",
        headers: [.retryAfter: "1"])

    /// The error for a Hummingbird error or a status the router chose.
    static func from(status: HTTPResponse.Status, message: String?) -> APIError {
        switch status {
        case .notFound:
            return APIError(status, type: "not_found", message: message ?? "no such route; see GET /docs for the API")
        case .methodNotAllowed:
            return APIError(
                status, type: "method_not_allowed", message: message ?? "this route does not take that method")
        case .contentTooLarge:
            return APIError(
                status, type: "payload_too_large",
                message: message
                    ?? "the request body is larger than the server's limit; send fewer or smaller documents or images")
        case .unauthorized:
            return APIError(status, type: "unauthorized", message: message ?? "missing or wrong API key")
        default:
            if status.code >= 500 {
                return APIError(status, type: "internal_error", message: message ?? "the server failed; see its log")
            }
            return APIError(status, type: "invalid_request", message: message ?? status.reasonPhrase)
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(ErrorBody(error: .init(message: message, type: type), detail: message))
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Internal failures that are not the client's fault.
enum ServerError: Error, CustomStringConvertible {
    /// The server is stopping and takes no new work.
    case shuttingDown
    /// An engine call gave a different number of results than pairs.
    case engineResultCount(expected: Int, got: Int)
    /// The request was not answered within the server's request timeout; its pending work was dropped.
    case timedOut(seconds: Double)
    /// The request was cancelled (its client went away); its pending work was dropped.
    case cancelled
    /// The model could not score the request (e.g. a non-finite score from a broken checkpoint).
    case model(String)

    var description: String {
        switch self {
        case .shuttingDown:
            return "the server is shutting down and takes no new work; retry on another instance"
        case let .engineResultCount(expected, got):
            return "the engine returned \(got) results for \(expected) pairs"
        case let .timedOut(seconds):
            return "the request was not answered within the server's request timeout (\(seconds.formatted()) s) and "
                + "was dropped: the server is overloaded; retry later, send fewer documents, or raise --request-timeout"
        case .cancelled:
            return "the request was cancelled"
        case let .model(message):
            return message
        }
    }
}

/// The JSON body of every error answer.
struct ErrorBody: Codable, Sendable {
    struct Detail: Codable, Sendable {
        var message: String
        var type: String
    }
    var error: Detail
    /// The message again, at the top level, where Jina-style clients (LlamaIndex, Haystack, LangChain) look.
    var detail: String
}
