import NIOCore
import NIOPosix

/// The server cannot listen where it was asked to.
public struct ListenError: Error, CustomStringConvertible {
    /// The address asked for.
    public var host: String
    /// The port asked for.
    public var port: Int
    /// What the system said.
    public var reason: String

    public var description: String {
        let inUse = reason.contains("in use") || reason.contains("EADDRINUSE") || reason.contains("errno: 98")
        let advice =
            inUse
            ? "another program (perhaps another lychee-rerank) listens there: stop it or choose another --port"
            : "check --host (an address of this machine) and --port (ports below 1024 need privileges)"
        return "cannot listen on \(host):\(port): \(reason); \(advice)"
    }
}

/// Checks, before the model is loaded, that the server will be able to listen on `host:port`: binds a
/// listening socket the way the server does (address reuse on) and closes it at once.
public enum ListenCheck {
    /// Throws ``ListenError`` naming host and port when binding fails.
    ///
    /// The socket accepts no connection: a client that connects while it listens (a readiness probe polling
    /// the port during start-up) waits in the kernel's queue and is reset when the socket closes, so it
    /// retries. (An accepted connection used to stay open with nothing reading it: the client hung.)
    /// - Parameter whileListening: called once the socket listens, before it closes (for tests).
    public static func requireAvailable(
        host: String, port: Int, whileListening: (@Sendable () async throws -> Void)? = nil
    ) async throws {
        guard port != 0 else { return }
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.autoRead, value: false)
                .childChannelInitializer { child in child.close() }
                .bind(host: host, port: port).get()
        } catch let error as IOError {
            throw ListenError(host: host, port: port, reason: Self.describe(error))
        } catch {
            throw ListenError(host: host, port: port, reason: "\(error)")
        }
        do {
            try await whileListening?()
        } catch {
            try? await channel.close()
            throw error
        }
        try await channel.close()
    }

    private static func describe(_ error: IOError) -> String {
        switch error.errnoCode {
        case 98: return "the address is already in use"  // EADDRINUSE
        case 99: return "the address is not one of this machine's"  // EADDRNOTAVAIL
        case 13: return "permission denied"  // EACCES
        default: return "\(error)"
        }
    }
}
