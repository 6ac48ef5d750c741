import CCUDA

/// The CUDA driver API entry points the backend calls, resolved from `libcuda` at run time.
struct CUDADriver: @unchecked Sendable {
    let library: DynamicLibrary
    let cuInit: lychee_cuInit_t
    let cuDriverGetVersion: lychee_cuDriverGetVersion_t
    let cuDeviceGetCount: lychee_cuDeviceGetCount_t
    let cuDeviceGet: lychee_cuDeviceGet_t
    let cuDeviceGetName: lychee_cuDeviceGetName_t
    let cuDeviceGetAttribute: lychee_cuDeviceGetAttribute_t
    let cuDevicePrimaryCtxRetain: lychee_cuDevicePrimaryCtxRetain_t
    let cuCtxSetCurrent: lychee_cuCtxSetCurrent_t
    /// Sets how the primary context's host threads wait for the device (nil where the driver lacks it).
    let cuDevicePrimaryCtxSetFlags: lychee_cuDevicePrimaryCtxSetFlags_t?
    /// Whether events are made for blocking waits (``HostWait/block``): a thread waiting on one sleeps.
    var blockingEvents = false
    let cuCtxSynchronize: lychee_cuCtxSynchronize_t
    let cuMemAlloc: lychee_cuMemAlloc_t
    let cuMemFree: lychee_cuMemFree_t
    let cuMemGetInfo: lychee_cuMemGetInfo_t
    let cuMemcpyHtoD: lychee_cuMemcpyHtoD_t
    let cuMemcpyDtoH: lychee_cuMemcpyDtoH_t
    let cuMemcpyDtoDAsync: lychee_cuMemcpyDtoDAsync_t
    let cuMemsetD8: lychee_cuMemsetD8_t
    let cuMemHostAlloc: lychee_cuMemHostAlloc_t
    let cuMemFreeHost: lychee_cuMemFreeHost_t
    let cuMemcpyHtoDAsync: lychee_cuMemcpyHtoDAsync_t
    let cuMemcpyDtoHAsync: lychee_cuMemcpyDtoHAsync_t
    let cuStreamCreate: lychee_cuStreamCreate_t
    let cuStreamDestroy: lychee_cuStreamDestroy_t
    let cuStreamWaitEvent: lychee_cuStreamWaitEvent_t
    let cuEventCreate: lychee_cuEventCreate_t
    let cuEventRecord: lychee_cuEventRecord_t
    let cuEventQuery: lychee_cuEventQuery_t
    let cuEventSynchronize: lychee_cuEventSynchronize_t
    let cuEventDestroy: lychee_cuEventDestroy_t
    let cuEventElapsedTime: lychee_cuEventElapsedTime_t
    let cuModuleLoadData: lychee_cuModuleLoadData_t
    let cuModuleGetFunction: lychee_cuModuleGetFunction_t
    let cuFuncSetAttribute: lychee_cuFuncSetAttribute_t
    let cuLaunchKernel: lychee_cuLaunchKernel_t
    let cuGetErrorName: lychee_cuGetErrorName_t

    /// Opens `libcuda.so.1` and resolves every entry point (the `_v2` ABI where one exists).
    init() throws {
        let lib = try DynamicLibrary.open("the CUDA driver (libcuda)", candidates: ["libcuda.so.1", "libcuda.so"])
        library = lib
        cuInit = try lib.symbol("cuInit")
        cuDriverGetVersion = try lib.symbol("cuDriverGetVersion")
        cuDeviceGetCount = try lib.symbol("cuDeviceGetCount")
        cuDeviceGet = try lib.symbol("cuDeviceGet")
        cuDeviceGetName = try lib.symbol("cuDeviceGetName")
        cuDeviceGetAttribute = try lib.symbol("cuDeviceGetAttribute")
        cuDevicePrimaryCtxRetain = try lib.symbol("cuDevicePrimaryCtxRetain")
        cuCtxSetCurrent = try lib.symbol("cuCtxSetCurrent")
        cuDevicePrimaryCtxSetFlags =
            (try? lib.symbol("cuDevicePrimaryCtxSetFlags_v2")) ?? (try? lib.symbol("cuDevicePrimaryCtxSetFlags"))
        cuCtxSynchronize = try lib.symbol("cuCtxSynchronize")
        cuMemAlloc = try lib.symbol("cuMemAlloc_v2")
        cuMemFree = try lib.symbol("cuMemFree_v2")
        cuMemGetInfo = try lib.symbol("cuMemGetInfo_v2")
        cuMemcpyHtoD = try lib.symbol("cuMemcpyHtoD_v2")
        cuMemcpyDtoH = try lib.symbol("cuMemcpyDtoH_v2")
        cuMemcpyDtoDAsync = try lib.symbol("cuMemcpyDtoDAsync_v2")
        cuMemsetD8 = try lib.symbol("cuMemsetD8_v2")
        cuMemHostAlloc = try lib.symbol("cuMemHostAlloc")
        cuMemFreeHost = try lib.symbol("cuMemFreeHost")
        cuMemcpyHtoDAsync = try lib.symbol("cuMemcpyHtoDAsync_v2")
        cuMemcpyDtoHAsync = try lib.symbol("cuMemcpyDtoHAsync_v2")
        cuStreamCreate = try lib.symbol("cuStreamCreate")
        cuStreamDestroy = try lib.symbol("cuStreamDestroy_v2")
        cuStreamWaitEvent = try lib.symbol("cuStreamWaitEvent")
        cuEventCreate = try lib.symbol("cuEventCreate")
        cuEventRecord = try lib.symbol("cuEventRecord")
        cuEventQuery = try lib.symbol("cuEventQuery")
        cuEventSynchronize = try lib.symbol("cuEventSynchronize")
        cuEventDestroy = try lib.symbol("cuEventDestroy_v2")
        cuEventElapsedTime = try lib.symbol("cuEventElapsedTime")
        cuModuleLoadData = try lib.symbol("cuModuleLoadData")
        cuModuleGetFunction = try lib.symbol("cuModuleGetFunction")
        cuFuncSetAttribute = try lib.symbol("cuFuncSetAttribute")
        cuLaunchKernel = try lib.symbol("cuLaunchKernel")
        cuGetErrorName = try lib.symbol("cuGetErrorName")
    }

    /// A new event for ordering only (no timing): `spare.popLast()` when there is one.
    func orderingEvent(reusing spare: inout [CUevent]) throws -> CUevent {
        if let event = spare.popLast() { return event }
        var event: CUevent?
        let flags = LYCHEE_CU_EVENT_DISABLE_TIMING | (blockingEvents ? LYCHEE_CU_EVENT_BLOCKING_SYNC : 0)
        try check(cuEventCreate(&event, UInt32(flags)), "cuEventCreate")
        guard let event else { throw CUDAError.driver(call: "cuEventCreate", code: 1, name: "no event returned") }
        return event
    }

    /// Throws ``CUDAError/driver(call:code:name:)`` with the error's name unless `result` is success.
    func check(_ result: CUresult, _ call: @autoclosure () -> String) throws {
        guard result != 0 else { return }
        var namePointer: UnsafePointer<CChar>?
        let found = cuGetErrorName(result, &namePointer) == 0 ? namePointer : nil
        let name = found.map { String(cString: $0) } ?? "CUDA_ERROR_\(result)"
        throw CUDAError.driver(call: call(), code: result, name: name)
    }
}

/// The cuBLASLt entry points, resolved from `libcublasLt` at run time.
struct CUBLASLtLibrary: @unchecked Sendable {
    let library: DynamicLibrary
    let create: lychee_cublasLtCreate_t
    let descCreate: lychee_cublasLtMatmulDescCreate_t
    let descDestroy: lychee_cublasLtMatmulDescDestroy_t
    let descSetAttribute: lychee_cublasLtMatmulDescSetAttribute_t
    let layoutCreate: lychee_cublasLtMatrixLayoutCreate_t
    let layoutDestroy: lychee_cublasLtMatrixLayoutDestroy_t
    let preferenceCreate: lychee_cublasLtMatmulPreferenceCreate_t
    let preferenceDestroy: lychee_cublasLtMatmulPreferenceDestroy_t
    let preferenceSetAttribute: lychee_cublasLtMatmulPreferenceSetAttribute_t
    let heuristic: lychee_cublasLtMatmulAlgoGetHeuristic_t
    let matmul: lychee_cublasLtMatmul_t

    init() throws {
        let lib = try DynamicLibrary.open(
            "cuBLASLt (libcublasLt)", candidates: DynamicLibrary.candidates("libcublasLt", versions: ["13", "12"]))
        library = lib
        create = try lib.symbol("cublasLtCreate")
        descCreate = try lib.symbol("cublasLtMatmulDescCreate")
        descDestroy = try lib.symbol("cublasLtMatmulDescDestroy")
        descSetAttribute = try lib.symbol("cublasLtMatmulDescSetAttribute")
        layoutCreate = try lib.symbol("cublasLtMatrixLayoutCreate")
        layoutDestroy = try lib.symbol("cublasLtMatrixLayoutDestroy")
        preferenceCreate = try lib.symbol("cublasLtMatmulPreferenceCreate")
        preferenceDestroy = try lib.symbol("cublasLtMatmulPreferenceDestroy")
        preferenceSetAttribute = try lib.symbol("cublasLtMatmulPreferenceSetAttribute")
        heuristic = try lib.symbol("cublasLtMatmulAlgoGetHeuristic")
        matmul = try lib.symbol("cublasLtMatmul")
    }

    func check(_ status: cublasStatus_t, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        throw CUDAError.cublas(call: call(), status: status, name: CUBLASStatus.name(status))
    }
}

/// The NVRTC entry points, resolved from `libnvrtc` at run time.
struct NVRTCLibrary: @unchecked Sendable {
    let library: DynamicLibrary
    let version: lychee_nvrtcVersion_t
    let createProgram: lychee_nvrtcCreateProgram_t
    let compileProgram: lychee_nvrtcCompileProgram_t
    let getProgramLogSize: lychee_nvrtcGetProgramLogSize_t
    let getProgramLog: lychee_nvrtcGetProgramLog_t
    let getCUBINSize: lychee_nvrtcGetCUBINSize_t
    let getCUBIN: lychee_nvrtcGetCUBIN_t
    let destroyProgram: lychee_nvrtcDestroyProgram_t
    let getErrorString: lychee_nvrtcGetErrorString_t

    init() throws {
        let lib = try DynamicLibrary.open(
            "NVRTC (libnvrtc)", candidates: DynamicLibrary.candidates("libnvrtc", versions: ["13", "12"]))
        library = lib
        version = try lib.symbol("nvrtcVersion")
        createProgram = try lib.symbol("nvrtcCreateProgram")
        compileProgram = try lib.symbol("nvrtcCompileProgram")
        getProgramLogSize = try lib.symbol("nvrtcGetProgramLogSize")
        getProgramLog = try lib.symbol("nvrtcGetProgramLog")
        getCUBINSize = try lib.symbol("nvrtcGetCUBINSize")
        getCUBIN = try lib.symbol("nvrtcGetCUBIN")
        destroyProgram = try lib.symbol("nvrtcDestroyProgram")
        getErrorString = try lib.symbol("nvrtcGetErrorString")
    }

    func check(_ result: nvrtcResult, _ call: String) throws {
        guard result != 0 else { return }
        let message = getErrorString(result).map { String(cString: $0) } ?? "error \(result)"
        throw CUDAError.nvrtc(call: call, message: message)
    }
}
