import CCUDA
import Foundation

/// Row-major products `out[m, n] = x[m, k] W[n, k]^T (+ bias[n]) (+ residual[m, n])` through cuBLASLt, fp32
/// accumulation (the residual is cuBLASLt's C matrix with beta 1, a separate buffer from out),
/// bf16 output: bf16 operands, or E4M3 operands each with a vector of fp32 scales (one per weight row,
/// one per x row: `out[i, j] = sx[i] * sw[j] * sum x8[i, :] w8[j, :]`).
///
/// cuBLASLt is column-major: the row-major output `[m, n]` is the column-major `n x m` matrix
/// `W x^T`, so W is passed as A (stored `k x n`, transposed) and x as B (stored `k x m`, as is): the
/// "TN" layout FP8 products require. Descriptors, layouts and the heuristic's algorithm are cached per
/// (m, n, k, bias, fp8, residual).
final class MatmulEngine: @unchecked Sendable {
    private struct PlanKey: Hashable { var m, n, k: Int; var bias: Bool; var fp8 = false; var residual = false }
    private final class Plan {
        var desc: cublasLtMatmulDesc_t?
        var a, b, c: cublasLtMatrixLayout_t?
        var algo = lychee_cublasLtMatmulAlgo_t()
        /// The heuristic's other candidates, timed on the plan's first run (then emptied).
        var candidates: [lychee_cublasLtMatmulAlgo_t] = []
        var tuning: TuningKey?
    }

    /// Shapes that share a timing: one product with row counts in one power-of-two range. A plan for a new
    /// row count takes the heuristic's answer at the position that won for its range, without timing again
    /// (serving batches have a new row count nearly every pass).
    private struct TuningKey: Hashable { var n, k: Int; var bias, fp8, residual: Bool; var rowRange: Int }
    private var tunedChoice: [TuningKey: Int] = [:]

    /// Products of at least this many multiply-adds time the heuristic's first few algorithms on their first
    /// run and keep the fastest: the heuristic's first choice is often not the fastest for the long inner
    /// sizes of the MLP or the vision tower's narrow products, and the timing costs a few runs once per shape.
    /// 2^34, or 2^`LYCHEE_AUTOTUNE_MIN_WORK` (20-40) to tune smaller products too.
    static let autotuneMinimumWork = 1 << environmentInteger("LYCHEE_AUTOTUNE_MIN_WORK", default: 34, in: 20...40)
    /// Algorithms timed per tuned shape: 8, or `LYCHEE_AUTOTUNE_CANDIDATES` (1-64) to try more of the
    /// heuristic's list. `LYCHEE_AUTOTUNE_LOG=1` prints each tuning's outcome on standard error.
    static let autotuneCandidates = environmentInteger("LYCHEE_AUTOTUNE_CANDIDATES", default: 8, in: 1...64)
    /// The environment variable `name` as an integer clamped to `range`; `fallback` when unset or not a number.
    private static func environmentInteger(_ name: String, default fallback: Int, in range: ClosedRange<Int>) -> Int {
        let value = ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? fallback
        return min(range.upperBound, max(range.lowerBound, value))
    }
    static let logsAutotuning = ProcessInfo.processInfo.environment["LYCHEE_AUTOTUNE_LOG"] == "1"

    private let blas: CUBLASLtLibrary
    private let driver: CUDADriver
    private var handle: cublasLtHandle_t?
    private let workspace: CUdeviceptr
    static let workspaceBytes = 32 << 20
    /// `CUBLAS_STATUS_NOT_SUPPORTED`.
    static let notSupported: cublasStatus_t = 15
    private var plans: [PlanKey: Plan] = [:]
    /// Shapes the heuristic had no algorithm for (asked once).
    private var refused: Set<PlanKey> = []
    private let lock = NSLock()

    init(blas: CUBLASLtLibrary, driver: CUDADriver, pool: DeviceMemoryPool) throws {
        self.blas = blas
        self.driver = driver
        var handle: cublasLtHandle_t?
        try blas.check(blas.create(&handle), "cublasLtCreate")
        self.handle = handle
        workspace = try pool.allocate(Self.workspaceBytes).pointer
    }

    /// Runs the product, adding `residual` (`[m, n]` bf16, not `out` itself) when given; returns false when
    /// cuBLASLt offers no algorithm for the shape.
    func run(
        x: CUdeviceptr, weight: CUdeviceptr, bias: CUdeviceptr?, residual: CUdeviceptr? = nil, out: CUdeviceptr, m: Int,
        n: Int, k: Int
    ) throws -> Bool {
        try run(
            PlanKey(m: m, n: n, k: k, bias: bias != nil, residual: residual != nil), x: x, weight: weight, bias: bias,
            residual: residual, out: out, scales: nil)
    }

    /// The E4M3 product with per-row scales of x (`xScales`, m values) and of W (`weightScales`, n values);
    /// returns false when cuBLASLt has no FP8 algorithm with vector scales for the shape (before CUDA
    /// 12.9, or on a GPU without FP8 tensor cores).
    func runFP8(
        x: CUdeviceptr, xScales: CUdeviceptr, weight: CUdeviceptr, weightScales: CUdeviceptr, bias: CUdeviceptr?,
        residual: CUdeviceptr? = nil, out: CUdeviceptr, m: Int, n: Int, k: Int
    ) throws -> Bool {
        try run(
            PlanKey(m: m, n: n, k: k, bias: bias != nil, fp8: true, residual: residual != nil), x: x, weight: weight,
            bias: bias, residual: residual, out: out, scales: (x: xScales, weight: weightScales))
    }

    private func run(
        _ key: PlanKey, x: CUdeviceptr, weight: CUdeviceptr, bias: CUdeviceptr?, residual: CUdeviceptr?,
        out: CUdeviceptr, scales: (x: CUdeviceptr, weight: CUdeviceptr)?
    ) throws -> Bool {
        let (m, n, k) = (key.m, key.n, key.k)
        lock.lock()
        defer { lock.unlock() }
        let plan: Plan
        if let cached = plans[key] {
            plan = cached
        } else {
            guard !refused.contains(key) else { return false }
            guard let made = try makePlan(key) else {
                refused.insert(key)
                return false
            }
            plans[key] = made
            plan = made
        }
        if var biasPointer = bias {
            try blas.check(
                blas.descSetAttribute(
                    plan.desc, Int32(LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_POINTER), &biasPointer,
                    MemoryLayout<CUdeviceptr>.size), "cublasLtMatmulDescSetAttribute(BIAS_POINTER)")
        }
        if let scales {
            try setPointer(plan.desc, LYCHEE_CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, scales.weight, "A_SCALE_POINTER")
            try setPointer(plan.desc, LYCHEE_CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, scales.x, "B_SCALE_POINTER")
        }
        let launch = { (algo: inout lychee_cublasLtMatmulAlgo_t) -> cublasStatus_t in
            // C is read only with beta 1; each run writes out afresh, so the autotuner's repeats are harmless.
            var alpha: Float = 1, beta: Float = residual == nil ? 0 : 1
            return self.blas.matmul(
                self.handle, plan.desc, &alpha, UnsafeRawPointer(bitPattern: UInt(weight)), plan.a,
                UnsafeRawPointer(bitPattern: UInt(x)), plan.b, &beta,
                UnsafeRawPointer(bitPattern: UInt(residual ?? out)), plan.c,
                UnsafeMutableRawPointer(bitPattern: UInt(out)), plan.c, &algo,
                UnsafeMutableRawPointer(bitPattern: UInt(self.workspace)), Self.workspaceBytes, nil)
        }
        if !plan.candidates.isEmpty { try autotune(plan, key, launch) }
        let status = launch(&plan.algo)
        if key.residual, status == Self.notSupported {
            // A library that has no product adding C with these scales: the caller adds the residual itself.
            plans[key] = nil
            refused.insert(key)
            return false
        }
        try blas.check(
            status,
            "cublasLtMatmul(m: \(m), n: \(n), k: \(k)\(key.fp8 ? ", fp8" : "")\(key.residual ? ", residual" : ""))")
        return true
    }

    /// Times the plan's first algorithm and its candidates (two runs each, on this run's operands: the last
    /// run of the winner is redone by the caller) and keeps the fastest. A candidate that fails is skipped.
    private func autotune(
        _ plan: Plan, _ key: PlanKey, _ launch: (inout lychee_cublasLtMatmulAlgo_t) -> cublasStatus_t
    ) throws {
        let candidates = [plan.algo] + plan.candidates
        plan.candidates = []
        var start: CUevent?, end: CUevent?
        guard driver.cuEventCreate(&start, 0) == 0, driver.cuEventCreate(&end, 0) == 0 else { return }
        defer {
            _ = driver.cuEventDestroy(start)
            _ = driver.cuEventDestroy(end)
        }
        var best = (time: Float.infinity, index: 0)
        var first = Float.nan
        for (index, candidate) in candidates.enumerated() {
            var algo = candidate
            guard launch(&algo) == 0 else { continue }  // warm-up (and a check that it runs)
            _ = driver.cuEventRecord(start, nil)
            var failed = false
            for _ in 0..<2 where launch(&algo) != 0 { failed = true }
            _ = driver.cuEventRecord(end, nil)
            guard !failed, driver.cuEventSynchronize(end) == 0 else { continue }
            var milliseconds: Float = 0
            guard driver.cuEventElapsedTime(&milliseconds, start, end) == 0 else { continue }
            if index == 0 { first = milliseconds / 2 }
            if milliseconds < best.time { best = (milliseconds, index) }
        }
        if Self.logsAutotuning {
            let line =
                "autotune m=\(key.m) n=\(key.n) k=\(key.k)\(key.fp8 ? " fp8" : "")\(key.bias ? " bias" : "")"
                + "\(key.residual ? " residual" : ""): heuristic's first \(first) ms, best \(best.time / 2) ms "
                + "(candidate \(best.index) of \(candidates.count))\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
        plan.algo = candidates[best.index]
        if let key = plan.tuning { tunedChoice[key] = best.index }
    }

    /// Vector scales on both operands (the heuristic checks the scale pointers' alignment: the workspace
    /// stands in) and a bf16 bias.
    private func setFP8Attributes(_ desc: cublasLtMatmulDesc_t?, bias: Bool) throws {
        let vectors = LYCHEE_CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F
        try setInt(desc, LYCHEE_CUBLASLT_MATMUL_DESC_A_SCALE_MODE, vectors, "A_SCALE_MODE")
        try setInt(desc, LYCHEE_CUBLASLT_MATMUL_DESC_B_SCALE_MODE, vectors, "B_SCALE_MODE")
        try setPointer(desc, LYCHEE_CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, workspace, "A_SCALE_POINTER")
        try setPointer(desc, LYCHEE_CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, workspace, "B_SCALE_POINTER")
        if bias { try setInt(desc, LYCHEE_CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, LYCHEE_CUDA_R_16BF, "BIAS_DATA_TYPE") }
    }

    private func setPointer(_ desc: cublasLtMatmulDesc_t?, _ attribute: Int, _ pointer: CUdeviceptr, _ name: String)
        throws
    {
        var value = pointer
        try blas.check(
            blas.descSetAttribute(desc, Int32(attribute), &value, MemoryLayout<CUdeviceptr>.size),
            "cublasLtMatmulDescSetAttribute(\(name))")
    }

    private func setInt(_ desc: cublasLtMatmulDesc_t?, _ attribute: Int, _ value: Int, _ name: String) throws {
        var value = Int32(value)
        try blas.check(
            blas.descSetAttribute(desc, Int32(attribute), &value, 4), "cublasLtMatmulDescSetAttribute(\(name))")
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
        let operand = key.fp8 ? Int32(LYCHEE_CUDA_R_8F_E4M3) : bf16
        if key.fp8 {
            // A library without vector scales refuses these attributes: no FP8 plan then.
            do {
                try setFP8Attributes(plan.desc, bias: key.bias)
            } catch {
                _ = blas.descDestroy(plan.desc)
                return nil
            }
        }
        try blas.check(
            blas.layoutCreate(&plan.a, operand, UInt64(key.k), UInt64(key.n), Int64(key.k)),
            "cublasLtMatrixLayoutCreate(A)")
        try blas.check(
            blas.layoutCreate(&plan.b, operand, UInt64(key.k), UInt64(key.m), Int64(key.k)),
            "cublasLtMatrixLayoutCreate(B)")
        try blas.check(
            blas.layoutCreate(&plan.c, bf16, UInt64(key.n), UInt64(key.m), Int64(key.n)),
            "cublasLtMatrixLayoutCreate(C)")
        var preference: cublasLtMatmulPreference_t?
        try blas.check(blas.preferenceCreate(&preference), "cublasLtMatmulPreferenceCreate")
        defer { _ = blas.preferenceDestroy(preference) }
        var limit = UInt64(Self.workspaceBytes)
        try blas.check(
            blas.preferenceSetAttribute(
                preference, Int32(LYCHEE_CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES), &limit, 8),
            "cublasLtMatmulPreferenceSetAttribute")
        let wanted = key.m * key.n * key.k >= Self.autotuneMinimumWork ? Self.autotuneCandidates : 1
        var results = [lychee_cublasLtMatmulHeuristicResult_t](repeating: .init(), count: wanted)
        var count: Int32 = 0
        let status = blas.heuristic(
            handle, plan.desc, plan.a, plan.b, plan.c, plan.c, preference, Int32(wanted), &results, &count)
        guard status == 0, count > 0 else {
            _ = blas.descDestroy(plan.desc)
            [plan.a, plan.b, plan.c].forEach { _ = blas.layoutDestroy($0) }
            return nil
        }
        let usable = results[0..<Int(count)].filter { $0.state == 0 }.map(\.algo)
        plan.algo = usable.first ?? results[0].algo
        guard wanted > 1 else { return plan }
        let tuning = TuningKey(
            n: key.n, k: key.k, bias: key.bias, fp8: key.fp8, residual: key.residual,
            rowRange: Int.bitWidth - (key.m - 1).leadingZeroBitCount)
        if let chosen = tunedChoice[tuning] {
            plan.algo = usable.indices.contains(chosen) ? usable[chosen] : plan.algo
        } else {
            plan.candidates = Array(usable.dropFirst())
            plan.tuning = tuning
        }
        return plan
    }
}
