import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1.1 child channel with ``RequestGuardHandler`` (timeouts, body limit, JSON answers
/// to parser errors) after the request decoder and ``ByteArrivalHandler`` before it; every connection is
/// kept in a ``ConnectionRegistry`` while open.
struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let limits: RequestGuardHandler.Limits
    let registry: ConnectionRegistry

    var responder: HTTPChannelHandler.Responder { inner.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let limits = self.limits
        let registry = self.registry
        return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let guardHandler = RequestGuardHandler(limits: limits)
            try pipeline.addHandler(guardHandler, position: .after(decoder))
            try pipeline.addHandler(ByteArrivalHandler(notifying: guardHandler, registry: registry), position: .first)
            registry.add(channel)
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the connection discipline of ``GuardedHTTP1Channel``.
    static func guardedHTTP1(limits: RequestGuardHandler.Limits, registry: ConnectionRegistry) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(responder: responder, configuration: .init()), limits: limits, registry: registry)
        }
    }
}
