import TensorKit

/// Everything that can go wrong on the CUDA path, with what to do about it.
public enum CUDAError: DeviceMemoryError, CustomStringConvertible, Equatable {
    /// None of the candidate file names of a shared library could be opened.
    case libraryNotFound(library: String, tried: [String], reason: String)
    /// A library opened but lacks an entry point (too old a version).
    case symbolMissing(library: String, symbol: String)
    /// The machine has the driver but no CUDA device.
    case noDevice
    /// The device is older than the kernels need.
    case unsupportedDevice(name: String, computeCapability: String)
    /// A driver API call returned an error.
    case driver(call: String, code: Int32, name: String)
    /// A cuBLASLt call returned an error.
    case cublas(call: String, status: Int32, name: String)
    /// NVRTC failed outside compilation (creating a program, reading its output).
    case nvrtc(call: String, message: String)
    /// A kernel source did not compile for this device.
    case compilation(architecture: String, log: String)
    /// cuBLASLt offered no algorithm for a matrix product.
    case noMatmulAlgorithm(m: Int, n: Int, k: Int)
    /// A device allocation failed even after the cached blocks were handed back.
    case outOfMemory(requestedBytes: Int, freeBytes: Int, totalBytes: Int)
    /// An allocation would take the process past its device memory limit (`--gpu-memory-limit-gib`).
    case memoryLimitReached(requestedBytes: Int, limitBytes: Int, heldBytes: Int)
    /// A launch's arguments do not match the kernel's declaration (a defect of this program, not of the input).
    case kernelArguments(kernel: String, detail: String)

    public var description: String {
        switch self {
        case .libraryNotFound(let library, let tried, let reason):
            return "could not load \(library) (tried \(tried.joined(separator: ", ")); last error: \(reason)). "
                + "Install the NVIDIA driver and CUDA 12 or 13 runtime libraries, add their folder to "
                + "LD_LIBRARY_PATH, or run with --backend cpu"
        case .symbolMissing(let library, let symbol):
            return "\(library) has no entry point \(symbol): the installed CUDA is too old; install CUDA 12 or newer"
        case .noDevice:
            return "the CUDA driver found no GPU on this machine; run with --backend cpu"
        case .unsupportedDevice(let name, let capability):
            return "\(name) has compute capability \(capability); the CUDA backend needs 8.0 or newer "
                + "(bf16 tensor cores); run with --backend cpu"
        case .driver(let call, let code, let name):
            return "CUDA driver call \(call) failed with \(name) (\(code))"
        case .cublas(let call, let status, let name):
            return "cuBLASLt call \(call) failed with \(name) (\(status))"
        case .nvrtc(let call, let message):
            return "NVRTC call \(call) failed: \(message)"
        case .compilation(let architecture, let log):
            return "the CUDA kernels did not compile for \(architecture):\n\(log)"
        case .noMatmulAlgorithm(let m, let n, let k):
            return "cuBLASLt found no bf16 algorithm for a \(m)x\(k) by \(k)x\(n) product"
        case .outOfMemory(let requested, let free, let total):
            return "the GPU is out of memory: \(requested) bytes requested, \(free) of \(total) free; "
                + "lower the token budget (--token-budget) or free the GPU"
        case .memoryLimitReached(let requested, let limit, let held):
            return "the GPU memory limit is reached: \(requested) more bytes needed, the backend holds \(held) "
                + "of the \(limit) bytes it may use besides its context; lower the token budget (--token-budget) "
                + "or raise --gpu-memory-limit-gib"
        case .kernelArguments(let kernel, let detail):
            return "internal error: a launch of the CUDA kernel \(kernel) does not match its declaration (\(detail)); "
                + "please report it, and run with --backend cpu meanwhile"
        }
    }
}

extension CUDAError {
    /// The device could not give the memory an op needed: a smaller batch may still succeed.
    public var isOutOfDeviceMemory: Bool {
        switch self {
        case .outOfMemory, .memoryLimitReached: true
        default: false
        }
    }
}

/// Names of cuBLAS status codes (cublas_api.h), for error messages.
enum CUBLASStatus {
    static func name(_ status: Int32) -> String {
        switch status {
        case 0: "CUBLAS_STATUS_SUCCESS"
        case 1: "CUBLAS_STATUS_NOT_INITIALIZED"
        case 3: "CUBLAS_STATUS_ALLOC_FAILED"
        case 7: "CUBLAS_STATUS_INVALID_VALUE"
        case 8: "CUBLAS_STATUS_ARCH_MISMATCH"
        case 11: "CUBLAS_STATUS_MAPPING_ERROR"
        case 13: "CUBLAS_STATUS_EXECUTION_FAILED"
        case 14: "CUBLAS_STATUS_INTERNAL_ERROR"
        case 15: "CUBLAS_STATUS_NOT_SUPPORTED"
        case 16: "CUBLAS_STATUS_LICENSE_ERROR"
        default: "CUBLAS_STATUS_\(status)"
        }
    }
}
