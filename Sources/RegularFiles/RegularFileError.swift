#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a file that must be a regular file could not be read.
///
/// ``reason`` says what was wrong without the path (for errors of other modules that name the file
/// themselves); ``description`` names the path too.
public enum RegularFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Nothing exists at the path.
    case notFound(path: String)
    /// The file or a folder above it may not be read by this user.
    case permissionDenied(path: String)
    /// The path names a directory, FIFO, device or socket.
    case notRegular(path: String, kind: String)
    /// The file shrank or grew while it was read.
    case changedWhileReading(path: String, expected: Int, read: Int)
    /// Any other failure of the system call, with the system's words.
    case unreadable(path: String, reason: String)

    /// The path the error is about.
    public var path: String {
        switch self {
        case let .notFound(path), let .permissionDenied(path), let .notRegular(path, _),
            let .changedWhileReading(path, _, _), let .unreadable(path, _):
            path
        }
    }

    /// What was wrong and what to do, without the path.
    public var reason: String {
        switch self {
        case .notFound:
            "no such file"
        case .permissionDenied:
            "permission denied; make the file (and the folders above it) readable by this user"
        case let .notRegular(_, kind):
            "it is \(kind), not a regular file; give the path of an ordinary file"
        case let .changedWhileReading(_, expected, read):
            "the file changed while it was read (\(read) of \(expected) bytes); wait until whatever writes it is done"
        case let .unreadable(_, reason):
            reason
        }
    }

    public var description: String { "cannot read \(path): \(reason)" }

    /// The error for a failed system call on `path`.
    static func from(errno code: Int32, path: String) -> RegularFileError {
        switch code {
        case ENOENT, ENOTDIR: .notFound(path: path)
        case EACCES, EPERM: .permissionDenied(path: path)
        default: .unreadable(path: path, reason: String(cString: strerror(code)))
        }
    }
}
