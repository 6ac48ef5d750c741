// Declarations of the few CUDA driver, cuBLASLt and NVRTC types and entry points lychee-rerank uses.
//
// No CUDA header is needed to build: the libraries are opened with dlopen at run time and each entry
// point is looked up with dlsym and cast to one of the function-pointer types below. The layouts and
// values mirror the public CUDA 12/13 ABI (they have been stable since CUDA 11).
#ifndef LYCHEE_CCUDA_H
#define LYCHEE_CCUDA_H

#include <stddef.h>
#include <stdint.h>

// MARK: Driver API

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

enum {
    LYCHEE_CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    LYCHEE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    LYCHEE_CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    LYCHEE_CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
    LYCHEE_CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
    LYCHEE_CU_EVENT_BLOCKING_SYNC = 1,
    LYCHEE_CU_EVENT_DISABLE_TIMING = 2,
    LYCHEE_CU_CTX_SCHED_SPIN = 1,
    LYCHEE_CU_CTX_SCHED_YIELD = 2,
    LYCHEE_CU_CTX_SCHED_BLOCKING_SYNC = 4,
    LYCHEE_CUDA_ERROR_NOT_READY = 600,
};

typedef CUresult (*lychee_cuInit_t)(unsigned int flags);
typedef CUresult (*lychee_cuDriverGetVersion_t)(int *version);
typedef CUresult (*lychee_cuDeviceGetCount_t)(int *count);
typedef CUresult (*lychee_cuDeviceGet_t)(CUdevice *device, int ordinal);
typedef CUresult (*lychee_cuDeviceGetName_t)(char *name, int length, CUdevice device);
typedef CUresult (*lychee_cuDeviceGetAttribute_t)(int *value, int attribute, CUdevice device);
typedef CUresult (*lychee_cuDevicePrimaryCtxRetain_t)(CUcontext *context, CUdevice device);
typedef CUresult (*lychee_cuCtxSetCurrent_t)(CUcontext context);
typedef CUresult (*lychee_cuDevicePrimaryCtxSetFlags_t)(CUdevice device, unsigned int flags);
typedef CUresult (*lychee_cuCtxSynchronize_t)(void);
typedef CUresult (*lychee_cuMemAlloc_t)(CUdeviceptr *pointer, size_t bytes);
typedef CUresult (*lychee_cuMemFree_t)(CUdeviceptr pointer);
typedef CUresult (*lychee_cuMemGetInfo_t)(size_t *free, size_t *total);
typedef CUresult (*lychee_cuMemcpyHtoD_t)(CUdeviceptr destination, const void *source, size_t bytes);
typedef CUresult (*lychee_cuMemcpyDtoH_t)(void *destination, CUdeviceptr source, size_t bytes);
typedef CUresult (*lychee_cuMemcpyDtoDAsync_t)(CUdeviceptr destination, CUdeviceptr source, size_t bytes, CUstream stream);
typedef CUresult (*lychee_cuMemHostAlloc_t)(void **pointer, size_t bytes, unsigned int flags);
typedef CUresult (*lychee_cuMemFreeHost_t)(void *pointer);
typedef CUresult (*lychee_cuMemcpyHtoDAsync_t)(CUdeviceptr destination, const void *source, size_t bytes, CUstream stream);
typedef CUresult (*lychee_cuMemcpyDtoHAsync_t)(void *destination, CUdeviceptr source, size_t bytes, CUstream stream);
typedef CUresult (*lychee_cuStreamCreate_t)(CUstream *stream, unsigned int flags);
typedef CUresult (*lychee_cuStreamDestroy_t)(CUstream stream);
typedef CUresult (*lychee_cuStreamWaitEvent_t)(CUstream stream, CUevent event, unsigned int flags);
typedef CUresult (*lychee_cuEventCreate_t)(CUevent *event, unsigned int flags);
typedef CUresult (*lychee_cuEventRecord_t)(CUevent event, CUstream stream);
typedef CUresult (*lychee_cuEventQuery_t)(CUevent event);
typedef CUresult (*lychee_cuEventSynchronize_t)(CUevent event);
typedef CUresult (*lychee_cuEventDestroy_t)(CUevent event);
typedef CUresult (*lychee_cuEventElapsedTime_t)(float *milliseconds, CUevent start, CUevent end);
typedef CUresult (*lychee_cuMemsetD8_t)(CUdeviceptr destination, unsigned char value, size_t count);
typedef CUresult (*lychee_cuModuleLoadData_t)(CUmodule *module, const void *image);
typedef CUresult (*lychee_cuModuleGetFunction_t)(CUfunction *function, CUmodule module, const char *name);
typedef CUresult (*lychee_cuFuncSetAttribute_t)(CUfunction function, int attribute, int value);
typedef CUresult (*lychee_cuLaunchKernel_t)(
    CUfunction function, unsigned int gridX, unsigned int gridY, unsigned int gridZ, unsigned int blockX,
    unsigned int blockY, unsigned int blockZ, unsigned int sharedMemBytes, CUstream stream, void **parameters,
    void **extra);
typedef CUresult (*lychee_cuGetErrorName_t)(CUresult error, const char **name);

// MARK: cuBLASLt

typedef int cublasStatus_t;
typedef struct cublasLtContext *cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque_t *cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_t *cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_t *cublasLtMatmulPreference_t;

/// An algorithm chosen by the heuristic (opaque, 64 bytes).
typedef struct {
    uint64_t data[8];
} lychee_cublasLtMatmulAlgo_t;

/// One heuristic answer.
typedef struct {
    lychee_cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} lychee_cublasLtMatmulHeuristicResult_t;

enum {
    LYCHEE_CUDA_R_32F = 0,
    LYCHEE_CUDA_R_16BF = 14,
    LYCHEE_CUDA_R_8F_E4M3 = 28,
    LYCHEE_CUBLAS_COMPUTE_32F = 68,
    LYCHEE_CUBLAS_OP_N = 0,
    LYCHEE_CUBLAS_OP_T = 1,
    LYCHEE_CUBLASLT_MATMUL_DESC_TRANSA = 3,
    LYCHEE_CUBLASLT_MATMUL_DESC_TRANSB = 4,
    LYCHEE_CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8,
    LYCHEE_CUBLASLT_MATMUL_DESC_A_SCALE_POINTER = 17,
    LYCHEE_CUBLASLT_MATMUL_DESC_B_SCALE_POINTER = 18,
    LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26,
    LYCHEE_CUBLASLT_MATMUL_DESC_A_SCALE_MODE = 31,
    LYCHEE_CUBLASLT_MATMUL_DESC_B_SCALE_MODE = 32,
    /// cublasLtMatmulMatrixScale_t: one fp32 scale per row of op(A) / per column of B (cuBLAS 12.9+).
    LYCHEE_CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F = 3,
    LYCHEE_CUBLASLT_EPILOGUE_DEFAULT = 1,
    LYCHEE_CUBLASLT_EPILOGUE_BIAS = 4,
    LYCHEE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
};

typedef cublasStatus_t (*lychee_cublasLtCreate_t)(cublasLtHandle_t *handle);
typedef cublasStatus_t (*lychee_cublasLtMatmulDescCreate_t)(
    cublasLtMatmulDesc_t *desc, int computeType, int scaleType);
typedef cublasStatus_t (*lychee_cublasLtMatmulDescDestroy_t)(cublasLtMatmulDesc_t desc);
typedef cublasStatus_t (*lychee_cublasLtMatmulDescSetAttribute_t)(
    cublasLtMatmulDesc_t desc, int attribute, const void *value, size_t size);
typedef cublasStatus_t (*lychee_cublasLtMatrixLayoutCreate_t)(
    cublasLtMatrixLayout_t *layout, int type, uint64_t rows, uint64_t cols, int64_t leadingDimension);
typedef cublasStatus_t (*lychee_cublasLtMatrixLayoutDestroy_t)(cublasLtMatrixLayout_t layout);
typedef cublasStatus_t (*lychee_cublasLtMatmulPreferenceCreate_t)(cublasLtMatmulPreference_t *preference);
typedef cublasStatus_t (*lychee_cublasLtMatmulPreferenceDestroy_t)(cublasLtMatmulPreference_t preference);
typedef cublasStatus_t (*lychee_cublasLtMatmulPreferenceSetAttribute_t)(
    cublasLtMatmulPreference_t preference, int attribute, const void *value, size_t size);
typedef cublasStatus_t (*lychee_cublasLtMatmulAlgoGetHeuristic_t)(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
    cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d, cublasLtMatmulPreference_t preference,
    int requestedCount, lychee_cublasLtMatmulHeuristicResult_t *results, int *returnedCount);
typedef cublasStatus_t (*lychee_cublasLtMatmul_t)(
    cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha, const void *a,
    cublasLtMatrixLayout_t aLayout, const void *b, cublasLtMatrixLayout_t bLayout, const void *beta,
    const void *c, cublasLtMatrixLayout_t cLayout, void *d, cublasLtMatrixLayout_t dLayout,
    const lychee_cublasLtMatmulAlgo_t *algo, void *workspace, size_t workspaceBytes, CUstream stream);

// MARK: NVRTC

typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;

typedef nvrtcResult (*lychee_nvrtcVersion_t)(int *major, int *minor);
typedef nvrtcResult (*lychee_nvrtcCreateProgram_t)(
    nvrtcProgram *program, const char *source, const char *name, int headerCount, const char *const *headers,
    const char *const *includeNames);
typedef nvrtcResult (*lychee_nvrtcCompileProgram_t)(nvrtcProgram program, int optionCount, const char *const *options);
typedef nvrtcResult (*lychee_nvrtcGetProgramLogSize_t)(nvrtcProgram program, size_t *size);
typedef nvrtcResult (*lychee_nvrtcGetProgramLog_t)(nvrtcProgram program, char *log);
typedef nvrtcResult (*lychee_nvrtcGetCUBINSize_t)(nvrtcProgram program, size_t *size);
typedef nvrtcResult (*lychee_nvrtcGetCUBIN_t)(nvrtcProgram program, char *cubin);
typedef nvrtcResult (*lychee_nvrtcDestroyProgram_t)(nvrtcProgram *program);
typedef const char *(*lychee_nvrtcGetErrorString_t)(nvrtcResult result);

#endif
