import Foundation
import NIOCore

/// The server's open connections, so that a shutdown that waited long enough can close them.
public final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var channels = [ObjectIdentifier: any Channel]()
    /// Connections whose client closed its side: a request still in flight there has nobody to answer.
    private var inputClosed = Set<ObjectIdentifier>()

    /// An empty registry.
    public init() {}

    /// How many connections are open.
    public var count: Int { lock.withLock { channels.count } }

    /// Keeps `channel` until it closes.
    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        lock.withLock { channels[key] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            self.lock.withLock {
                self.channels[key] = nil
                self.inputClosed.remove(key)
            }
        }
    }

    /// Notes that the client of `channel` closed its side of the connection.
    func markInputClosed(_ channel: any Channel) {
        _ = lock.withLock { inputClosed.insert(ObjectIdentifier(channel)) }
    }

    /// Whether the client of `channel` is still there: the channel is open and its client has not closed
    /// its side.
    func isClientConnected(_ channel: any Channel) -> Bool {
        channel.isActive && !lock.withLock { inputClosed.contains(ObjectIdentifier(channel)) }
    }

    /// Closes every open connection; returns how many there were.
    @discardableResult
    public func closeAll() -> Int {
        let open = lock.withLock { Array(channels.values) }
        for channel in open { channel.close(promise: nil) }
        return open.count
    }
}
