import Foundation
import RegularFiles

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One `.safetensors` file, validated on open and either memory-mapped read-only (`MAP_PRIVATE`) or read
/// into memory (``WeightLoading``).
///
/// Tensor bytes are never copied again: `bytes(_:)` returns a view into the mapping or buffer, valid while
/// this object lives. The bytes are read-only, so sharing one instance across threads is safe. A mapped
/// file truncated by another process while mapped can still fault on access; read it into memory
/// (``WeightLoading/readIntoMemory``) where files may change under a running process.
public final class SafeTensorFile: @unchecked Sendable {
    /// Where the file lives.
    public let url: URL
    /// Every tensor in the file, by name.
    public let tensors: [String: TensorInfo]
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Size of the file in bytes.
    public let fileSize: Int
    /// Whether the bytes are mapped or were read into memory.
    public let loading: WeightLoading

    private let contents: UnsafeRawBufferPointer
    private let dataStart: Int

    /// Opens and validates the file at `url`; refuses anything but a regular file before opening it.
    public init(url: URL, loading: WeightLoading = .memoryMapped) throws(SafeTensorsError) {
        let path = url.path
        let descriptor: Int32, size: Int
        do { (descriptor, size) = try RegularFile.openForReading(path) } catch {
            throw .cannotOpen(file: path, reason: error.reason)
        }
        defer { close(descriptor) }
        guard size >= 8 else { throw .fileTooSmall(file: path, size: size) }
        let contents = try Self.load(descriptor, size: size, path: path, loading: loading)
        do {
            let header = try SafeTensorHeader(file: contents, path: path)
            self.tensors = header.tensors
            self.metadata = header.metadata
            self.dataStart = header.dataStart
        } catch {
            Self.release(contents, loading: loading)
            throw error
        }
        self.url = url
        self.fileSize = size
        self.loading = loading
        self.contents = contents
    }

    deinit { Self.release(contents, loading: loading) }

    /// The file's bytes: a read-only mapping, or a page-aligned buffer filled with `read`.
    private static func load(_ descriptor: Int32, size: Int, path: String, loading: WeightLoading)
        throws(SafeTensorsError) -> UnsafeRawBufferPointer
    {
        switch loading {
        case .memoryMapped:
            guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), base != MAP_FAILED else {
                throw .cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
            }
            return UnsafeRawBufferPointer(start: base, count: size)
        case .readIntoMemory:
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
            let count: Int
            do { count = try RegularFile.readFully(descriptor, into: buffer, path: path) } catch {
                buffer.deallocate()
                throw .cannotOpen(file: path, reason: error.reason)
            }
            guard count == size else {
                buffer.deallocate()
                throw .cannotOpen(file: path, reason: "the file changed while it was read (\(count) of \(size) bytes)")
            }
            return UnsafeRawBufferPointer(buffer)
        }
    }

    private static func release(_ contents: UnsafeRawBufferPointer, loading: WeightLoading) {
        guard let base = contents.baseAddress else { return }
        switch loading {
        case .memoryMapped: munmap(UnsafeMutableRawPointer(mutating: base), contents.count)
        case .readIntoMemory: UnsafeMutableRawPointer(mutating: base).deallocate()
        }
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
        return UnsafeRawBufferPointer(rebasing: contents[start..<(start + info.byteCount)])
    }

    /// Tensor `name` converted to float32, in row-major order.
    public func floats(_ name: String) throws(SafeTensorsError) -> [Float] {
        guard let info = tensors[name] else { throw .tensorNotFound(name: name, location: url.path) }
        return FloatConversion.floats(bytes(info), dtype: info.dtype)
    }

}
