import CCUDA
import Foundation

/// Compiles CUDA C sources with NVRTC for one device architecture and keeps the machine code on disk.
///
/// Cache files are named by a hash of the source and the compile options, the architecture and the
/// driver version, so a changed kernel, another GPU or a driver update each compile afresh. A file that
/// cannot be written (read-only home) only costs a compile at the next start.
struct KernelCompiler: Sendable {
    let nvrtc: NVRTCLibrary
    /// `sm_90` and the like.
    let architecture: String
    let driverVersion: Int32
    /// Where compiled kernels are kept; nil disables the disk cache.
    let cacheDirectory: URL?

    /// The default cache folder: `$LYCHEE_KERNEL_CACHE`, else `$XDG_CACHE_HOME/lychee-rerank/kernels`,
    /// else `~/.cache/lychee-rerank/kernels`.
    static func defaultCacheDirectory() -> URL {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["LYCHEE_KERNEL_CACHE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let base =
            environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("lychee-rerank/kernels")
    }

    /// Compile options: the device's own architecture, C++17, and no header beyond NVRTC's built-ins.
    var options: [String] { ["--gpu-architecture=\(architecture)", "--std=c++17", "-lineinfo"] }

    /// The cache file for `source`.
    func cacheFile(for source: String) -> URL? {
        let key = KernelCompiler.fnv1a64(source + "\u{0}" + options.joined(separator: " "))
        let name = String(format: "%016llx-%@-driver%d.cubin", key, architecture, driverVersion)
        return cacheDirectory?.appendingPathComponent(name)
    }

    /// The CUBIN for `source`: from the cache when present, else compiled (and stored).
    func cubin(for source: String, name: String) throws -> Data {
        let file = cacheFile(for: source)
        if let file, let cached = try? Data(contentsOf: file), !cached.isEmpty { return cached }
        let compiled = try compile(source, name: name)
        if let file, let directory = cacheDirectory {
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try? compiled.write(to: file, options: .atomic)
        }
        return compiled
    }

    /// Runs NVRTC on `source`; throws ``CUDAError/compilation(architecture:log:)`` with the log on failure.
    func compile(_ source: String, name: String) throws -> Data {
        var program: nvrtcProgram?
        try nvrtc.check(nvrtc.createProgram(&program, source, name, 0, nil, nil), "nvrtcCreateProgram")
        defer { _ = nvrtc.destroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let result = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            nvrtc.compileProgram(program, Int32(buffer.count), buffer.baseAddress)
        }
        if result != 0 {
            throw CUDAError.compilation(architecture: architecture, log: log(of: program))
        }
        var size = 0
        try nvrtc.check(nvrtc.getCUBINSize(program, &size), "nvrtcGetCUBINSize")
        var bytes = [CChar](repeating: 0, count: size)
        try nvrtc.check(nvrtc.getCUBIN(program, &bytes), "nvrtcGetCUBIN")
        return bytes.withUnsafeBytes { Data($0) }
    }

    private func log(of program: nvrtcProgram?) -> String {
        var size = 0
        guard nvrtc.getProgramLogSize(program, &size) == 0, size > 1 else { return "(no log)" }
        var text = [CChar](repeating: 0, count: size)
        guard nvrtc.getProgramLog(program, &text) == 0 else { return "(no log)" }
        return CString.decode(text)
    }

    /// FNV-1a, 64-bit: a stable hash (Swift's `hashValue` changes between runs).
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
