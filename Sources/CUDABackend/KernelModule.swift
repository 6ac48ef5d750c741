import CCUDA
import Foundation

/// One argument of a kernel launch.
enum KernelArgument {
    case pointer(CUdeviceptr)
    case int32(Int32)
    case int64(Int64)
    case float(Float)
}

/// The backend's kernels, loaded from one NVRTC-compiled module, and a checked launcher.
final class KernelModule: @unchecked Sendable {
    private let driver: CUDADriver
    private let module: CUmodule?
    private var functions: [String: CUfunction] = [:]
    /// Dynamic shared memory each function was allowed beyond the default 48 KB.
    private var sharedLimits: [String: Int] = [:]
    private let lock = NSLock()
    /// Every kernel's parameter kinds, from its declaration: each launch is checked against them.
    private let signatures: KernelSignatures

    init(driver: CUDADriver, compiler: KernelCompiler) throws {
        self.driver = driver
        let source = KernelSources.all
        guard let signatures = KernelSignatures(source: source) else {
            throw CUDAError.kernelArguments(
                kernel: "(all)", detail: "a kernel parameter has a type launches cannot pass")
        }
        self.signatures = signatures
        let cubin = try compiler.cubin(for: source, name: "lychee_kernels.cu")
        var module: CUmodule?
        try cubin.withUnsafeBytes { bytes in
            try driver.check(driver.cuModuleLoadData(&module, bytes.baseAddress), "cuModuleLoadData")
        }
        self.module = module
    }

    private func function(_ name: String) throws -> CUfunction? {
        lock.lock()
        defer { lock.unlock() }
        if let cached = functions[name] { return cached }
        var function: CUfunction?
        try driver.check(driver.cuModuleGetFunction(&function, module, name), "cuModuleGetFunction(\(name))")
        functions[name] = function
        return function
    }

    /// Lets `function` take `bytes` of dynamic shared memory where that is more than the default 48 KB
    /// (once a function and size).
    private func allowSharedMemory(_ bytes: Int, for function: CUfunction?, named name: String) throws {
        // Nearly every launch stays within the default: it takes no lock.
        guard bytes > 48 * 1024 else { return }
        lock.lock()
        defer { lock.unlock() }
        guard sharedLimits[name, default: 0] < bytes else { return }
        try driver.check(
            driver.cuFuncSetAttribute(
                function, Int32(LYCHEE_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), Int32(bytes)),
            "cuFuncSetAttribute(\(name), dynamic shared memory \(bytes) bytes)")
        sharedLimits[name] = bytes
    }

    /// Launches `name` on the default stream and checks the launch's status.
    func launch(
        _ name: String, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
        _ arguments: [KernelArgument]
    ) throws {
        try signatures.check(name, arguments)
        let function = try function(name)
        try allowSharedMemory(sharedBytes, for: function, named: name)
        let slots = UnsafeMutableRawPointer.allocate(byteCount: max(arguments.count, 1) * 8, alignment: 8)
        defer { slots.deallocate() }
        var pointers = [UnsafeMutableRawPointer?]()
        for (index, argument) in arguments.enumerated() {
            let slot = slots + index * 8
            switch argument {
            case .pointer(let value): slot.storeBytes(of: value, as: CUdeviceptr.self)
            case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
            case .int64(let value): slot.storeBytes(of: value, as: Int64.self)
            case .float(let value): slot.storeBytes(of: value, as: Float.self)
            }
            pointers.append(slot)
        }
        let result = pointers.withUnsafeMutableBufferPointer { buffer in
            driver.cuLaunchKernel(
                function, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2), UInt32(block.0), UInt32(block.1),
                UInt32(block.2), UInt32(sharedBytes), nil, buffer.baseAddress, nil)
        }
        try driver.check(result, "cuLaunchKernel(\(name), grid \(grid), block \(block))")
    }
}
