import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `.safetensors` file, memory-mapped read-only (`MAP_PRIVATE`) and validated on open.
///
/// Tensor bytes are never copied: `bytes(_:)` returns a view into the mapping, valid while this
/// object lives. The mapping is read-only, so sharing one instance across threads is safe.
/// (As with any mmap, a file truncated by another process while mapped can still fault on access.)
public final class SafeTensorFile: @unchecked Sendable {
    /// Where the file lives.
    public let url: URL
    /// Every tensor in the file, by name.
    public let tensors: [String: TensorInfo]
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Size of the file in bytes.
    public let fileSize: Int

    private let mapping: UnsafeRawBufferPointer
    private let dataStart: Int

    /// Maps and validates the file at `url`.
    public init(url: URL) throws(SafeTensorsError) {
        let path = url.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotOpen(file: path, reason: Self.errorText()) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .cannotOpen(file: path, reason: Self.errorText()) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(file: path, reason: "not a regular file") }
        let size = Int(status.st_size)
        guard size >= 8 else { throw .fileTooSmall(file: path, size: size) }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
            throw .cannotOpen(file: path, reason: "mmap failed: \(Self.errorText())")
        }
        let mapping = UnsafeRawBufferPointer(start: base, count: size)
        do {
            let header = try SafeTensorHeader(file: mapping, path: path)
            self.tensors = header.tensors
            self.metadata = header.metadata
            self.dataStart = header.dataStart
        } catch {
            munmap(base, size)
            throw error
        }
        self.url = url
        self.fileSize = size
        self.mapping = mapping
    }

    deinit {
        if let base = mapping.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), mapping.count) }
    }

    /// Tensor names, sorted.
    public var tensorNames: [String] { tensors.keys.sorted() }

    /// The raw little-endian bytes of tensor `name`; valid while this file object lives.
    public func bytes(_ name: String) throws(SafeTensorsError) -> UnsafeRawBufferPointer {
        guard let info = tensors[name] else { throw .tensorNotFound(name: name, location: url.path) }
        return bytes(info)
    }

    /// The raw bytes of a tensor described by this file's header.
    func bytes(_ info: TensorInfo) -> UnsafeRawBufferPointer {
        let start = dataStart + info.dataOffset
        return UnsafeRawBufferPointer(rebasing: mapping[start..<(start + info.byteCount)])
    }

    /// Tensor `name` converted to float32, in row-major order.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let info = tensors[name] else { throw .tensorNotFound(name: name, location: url.path) }
        return FloatConversion.floats(bytes(info), dtype: info.dtype)
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
