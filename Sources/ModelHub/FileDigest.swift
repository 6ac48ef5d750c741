import Crypto
import Foundation

/// The checksum a hub announces for a file, and the running hash that checks it while bytes arrive.
public enum ExpectedDigest: Sendable, Equatable, CustomStringConvertible {
    /// SHA-256 of the content (Hub LFS files: `X-Linked-Etag`; ModelScope: `Sha256`).
    case sha256(String)
    /// Git blob id: SHA-1 of `"blob <size>\0" + content` (Hub regular files: `ETag`).
    case gitBlobSHA1(String)

    /// The digest a Hub ETag stands for: 64 hex digits are a SHA-256, 40 a git blob id, anything else nothing.
    public init?(hubETag etag: String) {
        let hex = etag.lowercased()
        guard hex.unicodeScalars.allSatisfy({ "0123456789abcdef".unicodeScalars.contains($0) }) else { return nil }
        switch hex.count {
        case 64: self = .sha256(hex)
        case 40: self = .gitBlobSHA1(hex)
        default: return nil
        }
    }

    public var hex: String {
        switch self {
        case .sha256(let value), .gitBlobSHA1(let value): return value
        }
    }

    public var description: String {
        switch self {
        case .sha256(let value): return "sha256 \(value)"
        case .gitBlobSHA1(let value): return "git-sha1 \(value)"
        }
    }

    /// A fresh hasher for a file of `size` bytes.
    func makeHasher(size: Int64) -> RunningDigest {
        switch self {
        case .sha256: return RunningDigest(kind: .sha256(SHA256()))
        case .gitBlobSHA1:
            var sha1 = Insecure.SHA1()
            sha1.update(data: Data("blob \(size)\0".utf8))
            return RunningDigest(kind: .sha1(sha1))
        }
    }
}

/// A hash being fed chunk by chunk.
struct RunningDigest {
    enum Kind {
        case sha256(SHA256)
        case sha1(Insecure.SHA1)
    }
    var kind: Kind

    mutating func update<Bytes: DataProtocol>(_ bytes: Bytes) {
        switch kind {
        case .sha256(var hasher):
            hasher.update(data: bytes)
            kind = .sha256(hasher)
        case .sha1(var hasher):
            hasher.update(data: bytes)
            kind = .sha1(hasher)
        }
    }

    /// Feeds the first `length` bytes of the file at `url` (a partial download being resumed).
    mutating func update(contentsOf url: URL, length: Int64) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var remaining = length
        while remaining > 0 {
            let chunk = try handle.read(upToCount: Int(min(remaining, 8 << 20))) ?? Data()
            if chunk.isEmpty { break }
            update(chunk)
            remaining -= Int64(chunk.count)
        }
    }

    func finalizeHex() -> String {
        switch kind {
        case .sha256(let hasher): return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        case .sha1(let hasher): return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }
}

/// The digest of a whole file on disk, in the form `expected` uses.
func digestOfFile(at url: URL, like expected: ExpectedDigest) throws -> String {
    let size = try fileSize(at: url)
    var hasher = expected.makeHasher(size: size)
    try hasher.update(contentsOf: url, length: size)
    return hasher.finalizeHex()
}

/// Size of a file, 0 when it does not exist.
func fileSize(at url: URL) throws -> Int64 {
    guard FileManager.default.fileExists(atPath: url.path) else { return 0 }
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    return (attributes[.size] as? NSNumber)?.int64Value ?? 0
}
