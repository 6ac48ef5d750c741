import Foundation
import NIOCore

/// One file to fetch: from `source` into `incomplete` (resumed from where it stopped), checked, then moved
/// to `destination`.
struct FileTransfer: Sendable {
    var name: String
    var source: URL
    var destination: URL
    var incomplete: URL
    var expectedSize: Int64?
    var digest: ExpectedDigest?
    var extraHeaders: [(String, String)] = []
}

/// How often a transfer is tried again.
struct TransferPolicy: Sendable {
    /// Resumes after a broken connection, per file and checksum attempt.
    var resumeAttempts = 3
    /// Complete downloads of a file whose checksum was wrong (the first bad copy is deleted and fetched again).
    var checksumAttempts = 2
}

extension FileTransfer {
    /// Downloads, resuming `incomplete` with Range requests after a broken connection, verifies size and
    /// checksum (a bad copy is deleted and fetched once more), and moves the file into place.
    /// An interrupted process leaves `incomplete` on disk for the next run.
    func run(http: HubHTTPClient, policy: TransferPolicy, progress: any DownloadProgressReporting) async throws {
        for attempt in 1...max(policy.checksumAttempts, 1) {
            var resumes = 0
            var computed: String?
            while true {
                do {
                    computed = try await fetchOnce(http: http, progress: progress)
                    break
                } catch let error as ModelHubError {
                    guard case .transport = error, resumes < policy.resumeAttempts else { throw error }
                    resumes += 1
                    progress.note(
                        "\(name): connection lost (\(error.shortReason)); resuming (\(resumes)/\(policy.resumeAttempts))"
                    )
                    try? await Task.sleep(nanoseconds: UInt64(resumes) * 200_000_000)
                }
            }
            let size = try fileSize(at: incomplete)
            if let expectedSize, size != expectedSize {
                try? FileManager.default.removeItem(at: incomplete)
                progress.discarded(bytes: size)
                if attempt < policy.checksumAttempts {
                    progress.note("\(name): size \(size) instead of \(expectedSize); fetching it again")
                    continue
                }
                throw ModelHubError.sizeMismatch(file: name, expected: expectedSize, actual: size)
            }
            if let digest, let computed, computed != digest.hex {
                try? FileManager.default.removeItem(at: incomplete)
                progress.discarded(bytes: size)
                if attempt < policy.checksumAttempts {
                    progress.note(
                        "\(name): checksum mismatch (expected \(digest), got \(computed)); deleted, fetching it again")
                    continue
                }
                throw ModelHubError.checksumMismatch(file: name, expected: digest.hex, actual: computed)
            }
            try moveIntoPlace()
            return
        }
    }

    /// One GET from the current end of `incomplete` to the end of the file; returns the digest of the whole
    /// file when a digest is expected (and the size known, for git blob ids).
    private func fetchOnce(http: HubHTTPClient, progress: any DownloadProgressReporting) async throws -> String? {
        try createDirectory(incomplete.deletingLastPathComponent())
        var offset = try fileSize(at: incomplete)
        if let expectedSize, offset > expectedSize {
            try truncate(to: 0)
            progress.discarded(bytes: offset)
            offset = 0
        }
        var hasher = digest.flatMap { digest -> RunningDigest? in
            if case .gitBlobSHA1 = digest, expectedSize == nil { return nil }
            return digest.makeHasher(size: expectedSize ?? 0)
        }
        if let expectedSize, offset == expectedSize, offset > 0 {
            try hasher?.update(contentsOf: incomplete, length: offset)
            return hasher?.finalizeHex()
        }
        var headers = extraHeaders
        headers.append(("Accept-Encoding", "identity"))
        if offset > 0 { headers.append(("Range", "bytes=\(offset)-")) }
        let response = try await http.send(.GET, source, headers: headers, followCrossOrigin: true)
        switch response.status {
        case 206:
            let start = response.header("Content-Range").flatMap(Self.rangeStart)
            if start != offset {
                // The server resumed somewhere else: start the file over.
                try truncate(to: 0)
                progress.discarded(bytes: offset)
                throw ModelHubError.transport(
                    url: source.absoluteString, reason: "server answered a different byte range")
            }
        case 200 where offset > 0:
            // The server ignored the Range header and sends the whole file.
            try truncate(to: 0)
            progress.discarded(bytes: offset)
            offset = 0
        case 416:
            // The partial file does not fit the server's copy: start it over.
            try? FileManager.default.removeItem(at: incomplete)
            progress.discarded(bytes: offset)
            throw ModelHubError.transport(url: source.absoluteString, reason: "the server refused the byte range")
        default:
            try HubHTTPClient.check(response, what: name)
        }
        if offset > 0 {
            try hasher?.update(contentsOf: incomplete, length: offset)
            progress.note("\(name): resuming at \(formatBytes(offset))")
        }
        let handle = try openForAppending()
        defer { try? handle.close() }
        do {
            for try await buffer in response.body {
                let chunk = Data(buffer.readableBytesView)
                do {
                    try handle.write(contentsOf: chunk)
                } catch {
                    throw ModelHubError.fileSystem(path: incomplete.path, reason: "\(error)")
                }
                hasher?.update(chunk)
                progress.received(bytes: chunk.count)
            }
        } catch let error as ModelHubError {
            throw error
        } catch {
            throw ModelHubError.transport(url: source.absoluteString, reason: "\(error)")
        }
        if let expectedSize, try fileSize(at: incomplete) < expectedSize {
            throw ModelHubError.transport(
                url: source.absoluteString, reason: "the connection closed before the end of the file")
        }
        return hasher?.finalizeHex()
    }

    /// `bytes 100-199/1000` -> 100.
    static func rangeStart(_ header: String) -> Int64? {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes ") else { return nil }
        return Int64(trimmed.dropFirst(6).prefix { $0 != "-" })
    }

    private func openForAppending() throws -> FileHandle {
        do {
            if !FileManager.default.fileExists(atPath: incomplete.path) {
                guard FileManager.default.createFile(atPath: incomplete.path, contents: nil) else {
                    throw ModelHubError.fileSystem(path: incomplete.path, reason: "cannot create the file")
                }
            }
            let handle = try FileHandle(forWritingTo: incomplete)
            try handle.seekToEnd()
            return handle
        } catch let error as ModelHubError {
            throw error
        } catch {
            throw ModelHubError.fileSystem(path: incomplete.path, reason: "\(error)")
        }
    }

    private func truncate(to size: Int64) throws {
        guard FileManager.default.fileExists(atPath: incomplete.path) else { return }
        do {
            let handle = try FileHandle(forWritingTo: incomplete)
            defer { try? handle.close() }
            try handle.truncate(atOffset: UInt64(size))
        } catch {
            throw ModelHubError.fileSystem(path: incomplete.path, reason: "\(error)")
        }
    }

    private func moveIntoPlace() throws {
        try createDirectory(destination.deletingLastPathComponent())
        guard rename(incomplete.path, destination.path) == 0 else {
            throw ModelHubError.fileSystem(path: destination.path, reason: String(cString: strerror(errno)))
        }
    }
}

extension ModelHubError {
    /// The reason part of a transport error, for one-line notes.
    var shortReason: String {
        if case .transport(_, let reason) = self { return reason }
        return description
    }
}
