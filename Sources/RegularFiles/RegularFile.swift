import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Opens and reads files that must be ordinary files: model files (config, tokenizer, preprocessor config,
/// safetensors shards and index) and images given by path.
///
/// Opening a FIFO blocks until a writer appears, and a device or a directory is never what a user meant, so
/// the path is checked with `stat` before it is opened, and the descriptor once more with `fstat` (opened with
/// `O_NONBLOCK`, so a FIFO swapped in between cannot block either).
public enum RegularFile {
    /// Throws unless `path` names a regular file (symbolic links followed); nothing is opened.
    public static func check(_ path: String) throws(RegularFileError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .from(errno: errno, path: path) }
        try checkKind(status, path: path)
    }

    /// Opens `path` read-only after checking that it is a regular file; returns the descriptor (which the
    /// caller closes) and the file's size in bytes.
    public static func openForReading(_ path: String) throws(RegularFileError) -> (descriptor: Int32, size: Int) {
        try check(path)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .from(errno: errno, path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw .from(errno: code, path: path)
        }
        do { try checkKind(status, path: path) } catch {
            close(descriptor)
            throw error
        }
        return (descriptor, Int(status.st_size))
    }

    /// The whole contents of the regular file at `url`, read into memory (never mapped, so a later change to
    /// the file cannot fault the process).
    public static func contents(of url: URL) throws(RegularFileError) -> Data {
        let path = url.path
        let (descriptor, size) = try openForReading(path)
        defer { close(descriptor) }
        var data = Data(count: size)
        var failure: RegularFileError?
        let count = data.withUnsafeMutableBytes { buffer -> Int in
            do throws(RegularFileError) { return try readFully(descriptor, into: buffer, path: path) } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
        guard count == size else { throw .changedWhileReading(path: path, expected: size, read: count) }
        return data
    }

    /// Reads from `descriptor` (the file at `path`) until `buffer` is full or the file ends; the number of
    /// bytes read.
    public static func readFully(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String)
        throws(RegularFileError) -> Int
    {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let count = read(descriptor, base + done, min(buffer.count - done, 1 << 30))
            if count < 0 {
                if errno == EINTR { continue }
                throw .from(errno: errno, path: path)
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    private static func checkKind(_ status: stat, path: String) throws(RegularFileError) {
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG else { throw .notRegular(path: path, kind: kindName(kind)) }
    }

    /// What a file of type `kind` (the `S_IFMT` bits of `st_mode`) is, in words.
    static func kindName(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: "a directory"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }
}
