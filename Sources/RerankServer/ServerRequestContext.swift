import Hummingbird
import NIOCore

/// The request context of the server: Hummingbird's core context plus the connection's channel, so that a
/// handler waiting for the engine can tell when its client has gone away and drop the request's work.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Whether the client is still connected.
    public var isClientConnected: Bool { channel.isActive }
}
