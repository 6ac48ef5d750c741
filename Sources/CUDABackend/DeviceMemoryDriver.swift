import CCUDA

/// The few driver calls the memory pool makes: the seam that lets tests run the pool on a pretend device.
protocol DeviceMemoryDriver: Sendable {
    /// `cuMemAlloc`: a new block of `bytes`, or the driver's status (2 is out of memory).
    func allocate(_ bytes: Int) -> Result<CUdeviceptr, CUDAStatus>
    /// `cuMemFree`.
    func free(_ pointer: CUdeviceptr) throws
    /// `cuMemGetInfo`: (free, total) bytes on the device, nil when the driver cannot say.
    func memoryInfo() -> (free: Int, total: Int)?
    /// `cuCtxSynchronize`: waits until the device has finished all queued work.
    func synchronize() throws
    /// `cuMemsetD8`.
    func fill(_ pointer: CUdeviceptr, byte: UInt8, count: Int) throws
    /// The error for a failed `call`, named as the driver names it.
    func error(for status: CUDAStatus, call: String) -> any Error
}

/// A failing driver status.
struct CUDAStatus: Error {
    let code: CUresult
    /// CUDA_ERROR_OUT_OF_MEMORY.
    var isOutOfMemory: Bool { code == 2 }
}

extension CUDADriver: DeviceMemoryDriver {
    func allocate(_ bytes: Int) -> Result<CUdeviceptr, CUDAStatus> {
        var pointer: CUdeviceptr = 0
        let result = cuMemAlloc(&pointer, bytes)
        return result == 0 ? .success(pointer) : .failure(CUDAStatus(code: result))
    }

    func free(_ pointer: CUdeviceptr) throws { try check(cuMemFree(pointer), "cuMemFree") }

    func memoryInfo() -> (free: Int, total: Int)? {
        var free = 0, total = 0
        return cuMemGetInfo(&free, &total) == 0 ? (free, total) : nil
    }

    func synchronize() throws { try check(cuCtxSynchronize(), "cuCtxSynchronize") }

    func fill(_ pointer: CUdeviceptr, byte: UInt8, count: Int) throws {
        try check(cuMemsetD8(pointer, byte, count), "cuMemsetD8")
    }

    func error(for status: CUDAStatus, call: String) -> any Error {
        do {
            try check(status.code, call)
        } catch {
            return error
        }
        return CUDAError.driver(call: call, code: status.code, name: "CUDA_ERROR_\(status.code)")
    }
}
