import Foundation
import SafeTensors
import TestSupport

/// Builds deliberately malformed safetensors files in a temporary folder.
struct HostileFiles {
    let folder: URL

    init() throws { folder = try Fixtures.temporaryDirectory("safetensors-hostile") }

    /// Writes `bytes` to a file named `name` and returns its URL.
    func file(_ name: String, bytes: [UInt8]) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// A file with the given header text and data region; the length prefix can lie.
    func file(_ name: String, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) throws -> URL {
        try file(name, bytes: Self.bytes(header: Array(header.utf8), data: data, declaredLength: declaredLength))
    }

    static func bytes(header: [UInt8], data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let length = declaredLength ?? UInt64(header.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) } + header + data
    }

    /// Opens `url` and returns the error it raises (nil when it opens).
    static func openError(_ url: URL) -> SafeTensorsError? {
        do {
            _ = try SafeTensorFile(url: url)
            return nil
        } catch {
            return error
        }
    }
}
