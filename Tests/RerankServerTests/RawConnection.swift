import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plain TCP connection to 127.0.0.1, for tests that send what well-behaved HTTP clients never would
/// (half requests, broken framing, silence). Blocking socket calls run off the test's task threads.
final class RawConnection: @unchecked Sendable {
    /// What the server answered, parsed just enough for the tests.
    struct Answer: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct ConnectError: Error, CustomStringConvertible {
        var port: Int
        var errno: Int32
        var description: String { "could not connect to 127.0.0.1:\(port) (errno \(errno))" }
    }

    private let descriptor: Int32
    private var received = [UInt8]()

    /// Connects to `127.0.0.1:port`.
    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            close(descriptor)
            throw ConnectError(port: port, errno: error)
        }
        // Reads wake up every 50 ms so that deadlines are kept.
        var slice = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &slice, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Sends `text` as UTF-8.
    func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends `bytes`; a peer that already closed is not an error here (the answer tells).
    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Reads until the server closes the connection or `timeout` passes. Returns everything read
    /// (including what earlier calls read but did not use) and whether the server closed.
    func readUntilClosed(timeout: Duration) async -> (bytes: [UInt8], closed: Bool) {
        let closed = await offThread { self.fill(until: ContinuousClock.now + timeout) { _ in false } }
        defer { received.removeAll() }
        return (received, closed)
    }

    /// Reads one answer (head, and a body of `Content-Length` bytes); nil when none came within `timeout`.
    func readAnswer(timeout: Duration) async -> Answer? {
        _ = await offThread {
            self.fill(until: ContinuousClock.now + timeout) { bytes in Self.parse(bytes) != nil }
        }
        guard let (answer, length) = Self.parse(received) else { return nil }
        received.removeFirst(length)
        return answer
    }

    /// Reads into `received` until `done` says so, the peer closes (returns true) or the deadline passes.
    private func fill(until deadline: ContinuousClock.Instant, done: ([UInt8]) -> Bool) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            if done(received) { return false }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[0..<count]
            } else if count == 0 {
                return true
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                return true  // reset by the peer
            }
        }
        return false
    }

    private func offThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }

    /// An answer and the bytes it took, once `bytes` hold all of it.
    static func parse(_ bytes: [UInt8]) -> (Answer, Int)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { return nil }
        let head = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers = [String: String]()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[line[..<colon].lowercased()] = value
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let total = headEnd + 4 + length
        guard bytes.count >= total else { return nil }
        let body = String(decoding: bytes[(headEnd + 4)..<total], as: UTF8.self)
        return (Answer(status: status, headers: headers, body: body), total)
    }
}

extension RawConnection.Answer {
    /// The `{"error": {"message", "type"}}` body.
    func apiError() throws -> ErrorBodyForTests.Detail {
        try JSONDecoder().decode(ErrorBodyForTests.self, from: Data(body.utf8)).error
    }
}

/// The JSON error body, decoded on its own so that these tests check the wire format.
struct ErrorBodyForTests: Decodable {
    struct Detail: Decodable {
        var message: String
        var type: String
    }
    var error: Detail
}
