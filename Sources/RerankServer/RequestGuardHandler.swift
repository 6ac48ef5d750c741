import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Connection discipline for one HTTP/1.1 connection, right after the request decoder:
/// - closes a connection that waits, silent, longer than the idle timeout for its next request;
/// - answers 408 and closes when a request's head or body takes longer than its timeout;
/// - answers 413 at once, and closes, when `Content-Length` is over the body limit (nothing of the body
///   is read), and closes after the answer when a chunked body grows over it;
/// - answers the parser's refusals (bad request line, bad or duplicate `Content-Length`, huge headers)
///   with the JSON error body every 4xx carries, instead of an empty one.
///
/// It sees the raw bytes' arrival through ``ByteArrivalHandler`` (first in the pipeline), so that it can
/// tell a silent connection from one slowly sending a request head. Everything runs on the channel's
/// event loop.
final class RequestGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The limits this handler enforces.
    struct Limits: Sendable {
        var idleTimeout: Duration
        var headerTimeout: Duration
        var bodyTimeout: Duration
        var maxBodyBytes: Int
    }

    private enum Deadline { case idle, head, body }

    private let limits: Limits
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// A request's head has been passed on and its end not yet.
    private var readingRequest = false
    /// Bytes arrived since the last request was read (the next request's head is on its way).
    private var bytesSinceLastRequest = false
    /// Requests passed on whose answer has not been written to its end.
    private var requestsAwaitingAnswer = 0
    private var bodyBytes = 0
    /// Inbound parts are dropped (the request was refused, or its body went over the limit).
    private var dropping = false
    /// An answer for the current request has started.
    private var answerStarted = false
    /// Close the connection once the current answer is written.
    private var closeAfterAnswer = false
    /// This handler wrote its own error answer; later answers from the application are dropped.
    private var ownAnswerWritten = false
    private var closed = false

    init(limits: Limits) {
        self.limits = limits
    }

    // MARK: Life cycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm(.idle) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(.idle)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        disarm()
        context.fireChannelInactive()
    }

    /// Called by ``ByteArrivalHandler`` before it passes bytes on.
    func bytesArrived() {
        guard !readingRequest, !bytesSinceLastRequest else { return }
        bytesSinceLastRequest = true
        if requestsAwaitingAnswer == 0 { arm(.head) }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if dropping { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if let declared = head.headers.first(name: "content-length").flatMap(Int.init),
                declared > limits.maxBodyBytes
            {
                refuseOversizedBody(declared: declared, context: context)
                return
            }
            readingRequest = true
            bytesSinceLastRequest = false
            requestsAwaitingAnswer += 1
            answerStarted = false
            bodyBytes = 0
            arm(.body)
            context.fireChannelRead(data)
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
            context.fireChannelRead(data)
            if bodyBytes > limits.maxBodyBytes {
                // The handler reading the body has seen the limit crossed and answers 413; nothing more of
                // this body is read, and the connection closes after that answer.
                dropping = true
                closeAfterAnswer = true
                readingRequest = false
                disarm()
                if requestsAwaitingAnswer == 0 { context.close(promise: nil) }
            }
        case .end:
            readingRequest = false
            if requestsAwaitingAnswer > 0 { disarm() } else { arm(.idle) }
            context.fireChannelRead(data)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if readingRequest || requestsAwaitingAnswer > 0 {
            // A request is being answered (e.g. a malformed chunk in its body): its handler meets the
            // error and answers; the connection closes after that answer.
            closeAfterAnswer = true
            context.fireErrorCaught(error)
            return
        }
        let failure = HTTPParseFailure(parseError)
        answerAndClose(status: failure.status, type: failure.type, message: failure.message, context: context)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if ownAnswerWritten {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head):
            answerStarted = true
            if closeAfterAnswer {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            requestsAwaitingAnswer = max(0, requestsAwaitingAnswer - 1)
            if closeAfterAnswer {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
            context.write(data, promise: promise)
            if requestsAwaitingAnswer == 0, !readingRequest { arm(bytesSinceLastRequest ? .head : .idle) }
        }
    }

    // MARK: Answers

    private func refuseOversizedBody(declared: Int, context: ChannelHandlerContext) {
        let limit = limits.maxBodyBytes
        answerAndClose(
            status: .contentTooLarge, type: "payload_too_large",
            message: "the request body (Content-Length \(declared) bytes) is larger than this server's limit of "
                + "\(limit) bytes (\(limit >> 20) MiB); send fewer or smaller documents or images", context: context)
    }

    /// Writes a JSON error answer with `Connection: close`, stops reading requests and closes: at once
    /// when nothing more is coming, otherwise after a short linger that lets the client read the answer
    /// (closing with unread bytes would reset the connection and could lose the answer).
    private func answerAndClose(
        status: HTTPResponse.Status, type: String, message: String, context: ChannelHandlerContext
    ) {
        dropping = true
        readingRequest = false
        disarm()
        defer { ownAnswerWritten = true }
        let body = Self.errorBody(type: type, message: message)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "connection", value: "close")
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: status.code), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        let loop = context.eventLoop.assumeIsolated()
        written.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
            loop.scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
        }
    }

    /// `{"error": {"message", "type"}}`, as every error answer of the API.
    static func errorBody(type: String, message: String) -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data =
            (try? encoder.encode(ErrorBody(error: .init(message: message, type: type), detail: message))) ?? Data()
        return ByteBuffer(bytes: data)
    }

    // MARK: Timers

    private func arm(_ deadline: Deadline) {
        disarm()
        guard let context, !closed else { return }
        let duration: Duration
        switch deadline {
        case .idle: duration = limits.idleTimeout
        case .head: duration = limits.headerTimeout
        case .body: duration = limits.bodyTimeout
        }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [self] in
            self.timer = nil
            self.expired(deadline)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expired(_ deadline: Deadline) {
        guard let context, !closed else { return }
        switch deadline {
        case .idle:
            context.close(promise: nil)
        case .head, .body:
            let what = deadline == .head ? "request line and headers" : "request body"
            let limit = deadline == .head ? limits.headerTimeout : limits.bodyTimeout
            if answerStarted && requestsAwaitingAnswer > 0 {
                context.close(promise: nil)
                return
            }
            answerAndClose(
                status: .requestTimeout, type: "request_timeout",
                message: "the \(what) did not arrive within \(limit.components.seconds) s; "
                    + "send the whole request promptly (or raise the server's timeout)", context: context)
        }
    }
}

/// First in the pipeline: tells the ``RequestGuardHandler`` that bytes arrived, then passes them on.
final class ByteArrivalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let guardHandler: RequestGuardHandler
    private let registry: ConnectionRegistry?

    /// - Parameter registry: told when the client closes its side (the server allows half-closed
    ///   connections, so the channel itself stays active).
    init(notifying guardHandler: RequestGuardHandler, registry: ConnectionRegistry? = nil) {
        self.guardHandler = guardHandler
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guardHandler.bytesArrived()
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { registry?.markInputClosed(context.channel) }
        context.fireUserInboundEventTriggered(event)
    }
}
