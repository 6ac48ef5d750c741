import CCUDA
import Foundation

/// Row-major bf16 products `out[m, n] = x[m, k] W[n, k]^T (+ bias[n])` through cuBLASLt, fp32 accumulation.
///
/// cuBLASLt is column-major: the row-major output `[m, n]` is the column-major `n x m` matrix
/// `W x^T`, so W is passed as A (stored `k x n`, transposed) and x as B (stored `k x m`, as is).
/// Descriptors, layouts and the heuristic's algorithm are cached per (m, n, k, bias).
final class MatmulEngine: @unchecked Sendable {
    private struct PlanKey: Hashable { var m, n, k: Int; var bias: Bool }
    private final class Plan {
        var desc: cublasLtMatmulDesc_t?
        var a, b, c: cublasLtMatrixLayout_t?
        var algo = lychee_cublasLtMatmulAlgo_t()
    }

    private let blas: CUBLASLtLibrary
    private let driver: CUDADriver
    private var handle: cublasLtHandle_t?
    private let workspace: CUdeviceptr
    static let workspaceBytes = 32 << 20
    private var plans: [PlanKey: Plan] = [:]
    private let lock = NSLock()

    init(blas: CUBLASLtLibrary, driver: CUDADriver, pool: DeviceMemoryPool) throws {
        self.blas = blas
        self.driver = driver
        var handle: cublasLtHandle_t?
        try blas.check(blas.create(&handle), "cublasLtCreate")
        self.handle = handle
        workspace = try pool.allocate(Self.workspaceBytes).pointer
    }

    /// Runs the product; returns false when cuBLASLt offers no algorithm for the shape.
    func run(x: CUdeviceptr, weight: CUdeviceptr, bias: CUdeviceptr?, out: CUdeviceptr, m: Int, n: Int, k: Int) throws
        -> Bool
    {
        lock.lock()
        defer { lock.unlock() }
        let key = PlanKey(m: m, n: n, k: k, bias: bias != nil)
        let plan: Plan
        if let cached = plans[key] {
            plan = cached
        } else {
            guard let made = try makePlan(key) else { return false }
            plans[key] = made
            plan = made
        }
        if var biasPointer = bias {
            try blas.check(
                blas.descSetAttribute(
                    plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_POINTER), &biasPointer,
                    MemoryLayout<CUdeviceptr>.size), "cublasLtMatmulDescSetAttribute(BIAS_POINTER)")
        }
        var alpha: Float = 1, beta: Float = 0
        try blas.check(
            blas.matmul(
                handle, plan.desc, &alpha, UnsafeRawPointer(bitPattern: UInt(weight)), plan.a,
                UnsafeRawPointer(bitPattern: UInt(x)), plan.b, &beta, UnsafeRawPointer(bitPattern: UInt(out)), plan.c,
                UnsafeMutableRawPointer(bitPattern: UInt(out)), plan.c, &plan.algo,
                UnsafeMutableRawPointer(bitPattern: UInt(workspace)), Self.workspaceBytes, nil),
            "cublasLtMatmul(m: \(m), n: \(n), k: \(k))")
        return true
    }

    private func makePlan(_ key: PlanKey) throws -> Plan? {
        let plan = Plan()
        let bf16 = Int32(LYCHEE_CUDA_R_16BF)
        try blas.check(
            blas.descCreate(&plan.desc, Int32(LYCHEE_CUBLAS_COMPUTE_32F), Int32(LYCHEE_CUDA_R_32F)),
            "cublasLtMatmulDescCreate")
        var transA = Int32(LYCHEE_CUBLAS_OP_T), transB = Int32(LYCHEE_CUBLAS_OP_N)
        try blas.check(
            blas.descSetAttribute(plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_TRANSA), &transA, 4),
            "cublasLtMatmulDescSetAttribute(TRANSA)")
        try blas.check(
            blas.descSetAttribute(plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_TRANSB), &transB, 4),
            "cublasLtMatmulDescSetAttribute(TRANSB)")
        var epilogue = Int32(
            key.bias ? LYCHEE_CUBLASLT_EPILOGUE_BIAS : LYCHEE_CUBLASLT_EPILOGUE_DEFAULT)
        try blas.check(
            blas.descSetAttribute(plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_EPILOGUE), &epilogue, 4),
            "cublasLtMatmulDescSetAttribute(EPILOGUE)")
        if key.bias {
            // The heuristic checks the bias pointer's alignment; any 256-byte aligned address stands in.
            var placeholder = workspace
            try blas.check(
                blas.descSetAttribute(
                    plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_POINTER), &placeholder, 8),
                "cublasLtMatmulDescSetAttribute(BIAS_POINTER)")
        }
        try blas.check(blas.layoutCreate(&plan.a, bf16, UInt64(key.k), UInt64(key.n), Int64(key.k)), "cublasLtMatrixLayoutCreate(A)")
        try blas.check(blas.layoutCreate(&plan.b, bf16, UInt64(key.k), UInt64(key.m), Int64(key.k)), "cublasLtMatrixLayoutCreate(B)")
        try blas.check(blas.layoutCreate(&plan.c, bf16, UInt64(key.n), UInt64(key.m), Int64(key.n)), "cublasLtMatrixLayoutCreate(C)")
        var preference: cublasLtMatmulPreference_t?
        try blas.check(blas.preferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
        defer { _ = blas.preferenceDestroy(preference) }
        var limit = UInt64(Self.workspaceBytes)
        try blas.check(
            blas.preferenceSetAttribute(
                preference, Int32(LYCHEE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), &limit, 8),
            "cublasLtMatmulPreferenceSetAttribute")
        var result = lychee_cublasLtMatmulHeuristicResult_t()
        var count: Int32 = 0
        let status = blas.heuristic(handle, plan.desc, plan.a, plan.b, plan.c, plan.c, preference, 1, &result, &count)
        guard status == 0, count > 0 else {
            _ = blas.descDestroy(plan.desc)
            [plan.a, plan.b, plan.c].forEach { _ = blas.layoutDestroy($0) }
            return nil
        }
        plan.algo = result.algo
        return plan
    }
}
