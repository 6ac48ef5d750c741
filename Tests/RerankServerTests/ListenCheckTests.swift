import Foundation
import RerankServer
import Testing

@Suite("The port check before the model loads")
struct ListenCheckTests {
    /// A readiness probe polling the port while `serve` checks it (before the model loads) connected to the
    /// check's socket; the check accepted the connection and closed only its listening socket, so the probe
    /// waited forever on a connection nothing read (seen once in CI: the standalone test's `curl` hung).
    @Test("a client that connects during the check is let go at once, not left hanging")
    func clientDuringTheCheckIsReleased() async throws {
        let port = try freePort()
        let holder = ConnectionHolder()
        try await ListenCheck.requireAvailable(host: "127.0.0.1", port: port) {
            let connection = try RawConnection(port: port)
            connection.send("GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            holder.connection = connection
            // Time for the check's event loop to accept it, as it did before.
            try await Task.sleep(for: .milliseconds(200))
        }
        let connection = try #require(holder.connection)
        let outcome = await connection.readUntilClosed(timeout: .seconds(3))
        #expect(outcome.closed, "the connection stayed open after the check closed its socket")
        #expect(outcome.bytes.isEmpty)
        // The port is free again for the server.
        try await ListenCheck.requireAvailable(host: "127.0.0.1", port: port)
    }

    @Test("a port another socket listens on is refused with advice")
    func portInUse() async throws {
        let socket = try ListeningSocket()
        do {
            try await ListenCheck.requireAvailable(host: "127.0.0.1", port: socket.port)
            Issue.record("the check passed on a port in use")
        } catch let error as ListenError {
            #expect(error.description.contains("already in use"))
            #expect(error.description.contains("--port"))
        }
    }

    final class ConnectionHolder: @unchecked Sendable {
        var connection: RawConnection?
    }
}
