#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A shared library opened with `dlopen`, and typed lookups of its entry points.
struct DynamicLibrary: @unchecked Sendable {
    /// What the library is, for messages ("the CUDA driver (libcuda)").
    let label: String
    /// The file name that opened.
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `candidates` that loads (bare names use the system search path).
    static func open(_ label: String, candidates: [String]) throws -> DynamicLibrary {
        var lastError = "not found"
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                return DynamicLibrary(label: label, path: candidate, handle: handle)
            }
            if let message = dlerror() { lastError = String(cString: message) }
        }
        throw CUDAError.libraryNotFound(library: label, tried: candidates, reason: lastError)
    }

    /// The entry point `name` as the C function-pointer type `T`.
    func symbol<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let pointer = dlsym(handle, name) else { throw CUDAError.symbolMissing(library: label, symbol: name) }
        return unsafeBitCast(pointer, to: T.self)
    }

    /// Candidate file names for `stem` (`libcublasLt`) with the given major versions, plain names first,
    /// then the usual CUDA install folders.
    static func candidates(_ stem: String, versions: [String]) -> [String] {
        let names = versions.map { "\(stem).so.\($0)" } + ["\(stem).so"]
        let folders = [
            "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu",
        ]
        return names + folders.flatMap { folder in names.map { "\(folder)/\($0)" } }
    }
}

/// Text from a NUL-terminated C character buffer.
enum CString {
    static func decode(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
