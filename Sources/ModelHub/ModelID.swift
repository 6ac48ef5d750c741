import Foundation

/// A model repository id as both hubs spell it: `org/name` (or a bare legacy `name` on the Hugging Face Hub).
public struct ModelID: Sendable, Hashable, CustomStringConvertible {
    /// The owner (user or organisation); nil for legacy one-part ids.
    public let owner: String?
    public let name: String

    /// The id as typed: `org/name`.
    public var description: String { owner.map { "\($0)/\(name)" } ?? name }

    /// Parses and checks an id: one or two parts of letters, digits, `-`, `_`, `.`, no `..` or `--`,
    /// not starting or ending with `-` or `.`, at most 96 characters a part.
    public init(_ text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(ModelID.isValidPart) else {
            throw ModelHubError.invalidModelID(text)
        }
        owner = parts.count == 2 ? parts[0] : nil
        name = parts[parts.count - 1]
    }

    static func isValidPart(_ part: String) -> Bool {
        guard !part.isEmpty, part.count <= 96, !part.contains(".."), !part.contains("--") else { return false }
        guard let first = part.first, let last = part.last, !"-.".contains(first), !"-.".contains(last) else {
            return false
        }
        return part.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "-_.".unicodeScalars.contains(scalar))
        }
    }

    /// The URL path of the id with each part percent-encoded.
    var urlPath: String { [owner, name].compactMap { $0 }.map(percentEncodePathSegment).joined(separator: "/") }
}

/// Percent-encodes one URL path segment (everything but unreserved characters), like Python's `quote(safe="")`.
func percentEncodePathSegment(_ segment: String) -> String {
    var allowed = CharacterSet.alphanumerics.intersection(
        CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
    allowed.insert(charactersIn: "-._~")
    return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
}

/// Percent-encodes a repository file path, keeping its `/` separators.
func percentEncodeFilePath(_ path: String) -> String {
    path.split(separator: "/").map { percentEncodePathSegment(String($0)) }.joined(separator: "/")
}

/// Checks a file name the server listed before it becomes a path on disk: relative, no `.`/`..` parts,
/// no empty parts, no control characters or backslashes.
func validatedRepositoryPath(_ path: String) throws -> String {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    let unsafe =
        path.isEmpty || path.count > 1024 || path.hasPrefix("/") || path.contains("\\")
        || parts.contains { $0.isEmpty || $0 == "." || $0 == ".." }
        || path.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    if unsafe { throw ModelHubError.unsafeFileName(path) }
    return path
}

/// Is `text` a full 40-hex-digit git commit hash?
func isCommitHash(_ text: String) -> Bool {
    text.count == 40 && text.unicodeScalars.allSatisfy { "0123456789abcdef".unicodeScalars.contains($0) }
}
