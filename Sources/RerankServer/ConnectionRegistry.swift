import Foundation
import NIOCore

/// The server's open connections, so that a shutdown that waited long enough can close them.
public final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var channels = [ObjectIdentifier: any Channel]()

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
            _ = self.lock.withLock { self.channels.removeValue(forKey: key) }
        }
    }

    /// Closes every open connection; returns how many there were.
    @discardableResult
    public func closeAll() -> Int {
        let open = lock.withLock { Array(channels.values) }
        for channel in open { channel.close(promise: nil) }
        return open.count
    }
}
