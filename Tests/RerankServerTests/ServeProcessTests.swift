import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `lychee-rerank serve` as a process (the binary `swift build` put beside this test bundle): what an
/// operator sees on a busy port, on SIGTERM with a stuck client, on a second signal, and the open-file
/// limit. Each server listens on 127.0.0.1 and is killed at the end of its test.
@Suite("serve as a process", .serialized, .timeLimit(.minutes(2)))
struct ServeProcessTests {
    @Test("a busy port is a clear error naming host and port, exit status 1")
    func busyPort() async throws {
        let holder = try ListeningSocket()
        let server = try ServeProcess(port: holder.port)
        let status = try #require(await server.exitStatus(within: .seconds(60)), "serve kept running on a busy port")
        #expect(status == 1)
        #expect(server.standardError.contains("cannot listen on 127.0.0.1:\(holder.port)"), "\(server.standardError)")
        #expect(server.standardError.contains("already in use"), "\(server.standardError)")
    }

    @Test("after --shutdown-timeout, connections still open are closed and the process exits")
    func shutdownTimeout() async throws {
        let server = try ServeProcess(port: try freePort(), extra: ["--shutdown-timeout", "1"])
        try await server.waitUntilReady()
        let stuck = try RawConnection(port: server.port)
        stuck.send("POST /v1/rerank HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"query\"")
        try await Task.sleep(for: .milliseconds(200))
        server.signal(SIGTERM)
        let status = await server.exitStatus(within: .seconds(15))
        #expect(status != nil, "serve did not exit 15 s after SIGTERM with --shutdown-timeout 1")
        #expect(await stuck.readUntilClosed(timeout: .seconds(2)).closed)
    }

    @Test("a second signal exits at once")
    func secondSignal() async throws {
        let server = try ServeProcess(port: try freePort())
        try await server.waitUntilReady()
        let stuck = try RawConnection(port: server.port)
        stuck.send("POST /v1/rerank HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n{\"query\"")
        try await Task.sleep(for: .milliseconds(200))
        server.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.isRunning, "the first SIGTERM should wait for the stuck request (shutdown timeout 30 s)")
        server.signal(SIGINT)
        let status = await server.exitStatus(within: .seconds(5))
        #expect(status == 130, "serve did not exit at once on a second signal (status \(String(describing: status)))")
    }

    @Test("the soft open-file limit is raised to the hard limit")
    func descriptorLimit() async throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        try #require(limit.rlim_max > 256, "the hard limit here is \(limit.rlim_max); nothing to raise")
        let server = try ServeProcess(port: try freePort(), softDescriptorLimit: 256)
        try await server.waitUntilReady()
        let limits = try String(contentsOfFile: "/proc/\(server.pid)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let numbers = line.split(separator: " ").compactMap { UInt64($0) }
        #expect(numbers.count == 2 && numbers[0] == numbers[1], "\(line)")
    }
}

/// A `lychee-rerank serve` child process on the tiny fixture model, killed when released.
final class ServeProcess: @unchecked Sendable {
    let port: Int
    private let process = Process()
    private let errors = Pipe()
    private let lock = NSLock()
    private var collected = Data()

    /// The binary built beside the test bundle.
    static var binary: URL {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return bundle.deletingLastPathComponent().appendingPathComponent("lychee-rerank")
    }

    init(port: Int, extra: [String] = [], softDescriptorLimit: Int? = nil) throws {
        self.port = port
        let binary = Self.binary.path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw ServeProcessError.missingBinary(binary)
        }
        let arguments =
            [
                "serve", "--model", Fixtures.url("checkpoints/tiny-untied-legacy").path, "--host", "127.0.0.1",
                "--port", String(port), "--backend", "cpu",
            ] + extra
        if let softDescriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -S -n \(softDescriptorLimit) && exec \"$0\" \"$@\"", binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.collected.append(data) }
        }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        errors.fileHandleForReading.readabilityHandler = nil
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var standardError: String { lock.withLock { String(decoding: collected, as: UTF8.self) } }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// The exit status once the process ends, or nil if it still runs after `limit`.
    func exitStatus(within limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning { return nil }
        try? await Task.sleep(for: .milliseconds(100))  // let the last of standard error arrive
        return process.terminationStatus
    }

    /// Waits until `/ready` answers 200.
    func waitUntilReady(within limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw ServeProcessError.exited(standardError) }
            if let connection = try? RawConnection(port: port) {
                connection.send("GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
                if await connection.readAnswer(timeout: .seconds(1))?.status == 200 { return }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ServeProcessError.notReady(standardError)
    }
}

enum ServeProcessError: Error, CustomStringConvertible {
    case missingBinary(String)
    case exited(String)
    case notReady(String)

    var description: String {
        switch self {
        case .missingBinary(let path): return "no lychee-rerank binary at \(path): run swift build first"
        case .exited(let log): return "serve exited before it was ready:\n\(log)"
        case .notReady(let log): return "serve was not ready in time:\n\(log)"
        }
    }
}

/// A socket listening on 127.0.0.1 and a free port, closed when released.
final class ListeningSocket {
    let descriptor: Int32
    let port: Int

    init() throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let socketDescriptor = descriptor
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socketDescriptor, pointer, length) == 0 && listen(socketDescriptor, 8) == 0
                    && getsockname(socketDescriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw ServeProcessError.exited("could not listen on 127.0.0.1 (errno \(errno))") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A port that was free a moment ago on 127.0.0.1.
func freePort() throws -> Int {
    try ListeningSocket().port
}
