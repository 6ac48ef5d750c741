import HTTPTypes
import NIOHTTP1

/// What to answer when the HTTP/1.1 parser refuses a request: a status and a message that says what was
/// wrong, for the JSON error body every 4xx carries.
struct HTTPParseFailure: Equatable {
    var status: HTTPResponse.Status
    var message: String

    /// The answer for `error`; `headerLimit` is the largest request head the server reads, for the message.
    init(_ error: HTTPParserError, headerLimit: Int = 80 * 1024) {
        status = .badRequest
        switch error {
        case .headerOverflow:
            status = .requestHeaderFieldsTooLarge
            message =
                "the request headers are larger than this server reads (\(headerLimit / 1024) KiB in all); "
                + "send fewer or shorter headers"
        case .invalidContentLength:
            message = "the Content-Length header is not a valid length: send one decimal number of bytes"
        case .unexpectedContentLength:
            message =
                "the request has Content-Length more than once, or together with Transfer-Encoding: "
                + "send exactly one Content-Length, or Transfer-Encoding: chunked alone"
        case .invalidChunkSize:
            message =
                "a chunk size in the chunked request body is not a hexadecimal number: "
                + "each chunk starts with its size in hex, then CRLF"
        case .invalidMethod:
            message = "the request line's method is not valid: the request must start with a method such as POST"
        case .invalidURL, .invalidPath, .invalidQueryString, .invalidFragment, .invalidHost, .invalidPort:
            message = "the request line's target is not a valid path: send e.g. POST /v1/rerank HTTP/1.1"
        case .invalidVersion:
            message = "the request line's HTTP version is not valid: this server speaks HTTP/1.1 (and 1.0)"
        case .invalidHeaderToken:
            message = "a header name or value has characters HTTP does not allow"
        case .invalidConstant, .lfExpected, .invalidCharactersUsed, .strictModeAssertion:
            message =
                "the request is not well-formed HTTP/1.1 (request line or headers); "
                + "check line endings (CRLF) and the request line (METHOD /path HTTP/1.1)"
        default:
            message = "the request could not be read as HTTP/1.1 (\(error)); check the request line and headers"
        }
    }

    /// The stable machine-readable error type of the JSON body.
    var type: String { status == .requestHeaderFieldsTooLarge ? "headers_too_large" : "invalid_request" }

    /// The same as an ``APIError`` (a parse error met by a handler while it reads the body).
    var apiError: APIError {
        APIError(status, type: type, message: message, headers: [.connection: "close"])
    }
}
