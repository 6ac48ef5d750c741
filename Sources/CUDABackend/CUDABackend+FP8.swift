import CCUDA
import TensorKit

extension CUDABackend {
    /// The product of an 8-bit weight into `out` (adding `residual` when given): on FP8 tensor cores (x
    /// quantized per row, one cuBLASLt E4M3 product with vector scales) when ``fp8TensorCores`` is on and the
    /// shape allows it, else the weight widened to bf16 in a scratch buffer just before an ordinary bf16 product.
    func scaledProduct(
        _ given: Tensor, weight: Tensor, bias: Tensor?, sizes: OpChecks.LinearSizes, out outPointer: CUdeviceptr,
        residual: CUdeviceptr?
    ) throws {
        let (m, n, k) = (sizes.rows, sizes.outFeatures, sizes.inFeatures)
        let wPointer = try address(weight, op: "linear", argument: "weight", dtype: .f8e4m3)
        let scalePointer = try rowScaleAddress(weight, op: "linear")
        let bPointer = try bias.map { try address($0, op: "linear", argument: "bias") }
        let name = "linear fp8 n=\(n) k=\(k)\(m < 64 ? " m<64" : "")"
        /// The E4M3 product of quantized rows; false when cuBLASLt has none for the shape.
        func run(_ x: CUdeviceptr, _ xScales: CUdeviceptr) throws -> Bool {
            if try matmul.runFP8(
                x: x, xScales: xScales, weight: wPointer, weightScales: scalePointer, bias: bPointer,
                residual: residual,
                out: outPointer, m: m, n: n, k: k)
            {
                return true
            }
            guard let residual,
                try matmul.runFP8(
                    x: x, xScales: xScales, weight: wPointer, weightScales: scalePointer, bias: bPointer,
                    out: outPointer, m: m, n: n, k: k)
            else { return false }
            try addInPlace(residual, to: outPointer, count: m * n)
            return true
        }
        // FP8 products need 16-element multiples on the inner and output sizes, and aligned operands.
        let fp8Shape =
            fp8TensorCores && k % 16 == 0 && n % 16 == 0 && [wPointer, outPointer].allSatisfy { $0 % 16 == 0 }
        if fp8Shape, given.dtype == .f8e4m3 {
            // Quantized by the op that made it (``siluMul(gateUp:feeding:)``).
            let qPointer = try address(given, op: "linear", argument: "x", dtype: .f8e4m3)
            let scales = try alignedRowScales(of: given, rows: m)
            if qPointer % 16 == 0, try withExtendedLifetime(scales.copy, { try run(qPointer, scales.pointer) }) {
                return try finish(name)
            }
        }
        let x = try widenedActivation(given)
        let xPointer = try address(x, op: "linear", argument: "x")
        if fp8Shape, xPointer % 16 == 0, let threads = Self.rowThreads(width8: k / 8) {
            let quantized = try makeTensor(shape: [m, k], dtype: .f8e4m3)
            let xScales = try makeTensor(shape: [m], dtype: .f32)
            let qPointer = try address(quantized, op: "linear", argument: "quantized x", dtype: .f8e4m3)
            let sPointer = try address(xScales, op: "linear", argument: "x scales", dtype: .f32)
            try kernels.launch(
                "quantize_rows_e4m3_v8", grid: (m, 1, 1), block: (threads, 1, 1),
                [.pointer(xPointer), .pointer(qPointer), .pointer(sPointer), .int32(Int32(k / 8))])
            if try run(qPointer, sPointer) { return try finish(name) }
        }
        let widened = try widen(pointer: wPointer, scales: scalePointer, rows: n, columns: k)
        let wide = try address(widened, op: "linear", argument: "widened weight")
        try bf16Product(
            x: xPointer, weight: wide, bias: bPointer, residual: residual, out: outPointer, m: m, n: n, k: k)
        try finish("linear widened-fp8 n=\(n) k=\(k)\(m < 64 ? " m<64" : "")")
    }

    /// Threads of a one-block-per-row quantizing kernel for rows of `width8` 16-byte vectors: each thread
    /// holds up to 4 of them (the kernels' ROW_VECTORS), in whole warps. Nil for rows wider than 4096 vectors
    /// (32,768 values; the 7B's widest is 18,944), which these kernels do not take.
    static func rowThreads(width8: Int) -> Int? {
        let rowVectors = 4
        guard width8 > 0, width8 <= rowVectors * 1024 else { return nil }
        return ((width8 + rowVectors - 1) / rowVectors + 31) / 32 * 32
    }

    /// `x` itself, or for an activation quantized per row (``siluMul(gateUp:feeding:)``) its bf16 values.
    func widenedActivation(_ x: Tensor) throws -> Tensor {
        guard x.dtype == .f8e4m3 else { return x }
        let pointer = try address(x, op: "linear", argument: "x", dtype: .f8e4m3)
        return try widen(
            pointer: pointer, scales: try rowScaleAddress(x, op: "linear"), rows: x.rowCount, columns: x.rowWidth
        )
        .reshaped(x.shape)
    }

    /// On FP8 tensor cores, with a down projection that runs there: silu(gate) * up quantized per row in
    /// one kernel (the bf16 product never goes to memory). Otherwise ``siluMul(gateUp:)``.
    public func siluMul(gateUp: Tensor, feeding weight: Tensor) throws -> Tensor {
        let width = try OpChecks.gateUp(gateUp)
        let rows = width == 0 ? 0 : gateUp.elementCount / (2 * width)
        guard fp8TensorCores, gateUp.rank == 2, weight.dtype == .f8e4m3, weight.rowScales != nil,
            weight.shape.count == 2,
            weight.shape[1] == width, width % 16 == 0, weight.shape[0] % 16 == 0, rows > 0,
            let threads = Self.rowThreads(width8: width / 8)
        else { return try siluMul(gateUp: gateUp) }
        try enter()
        let input = try address(gateUp, op: "siluMul", argument: "gateUp")
        guard input % 16 == 0 else { return try siluMul(gateUp: gateUp) }
        let values = try CUDAStorage(pool: pool, byteCount: rows * width)
        let scales = try makeTensor(shape: [rows], dtype: .f32)
        let scalePointer = try address(scales, op: "siluMul", argument: "scales", dtype: .f32)
        try kernels.launch(
            "silu_mul_quantize_e4m3_v8", grid: (rows, 1, 1), block: (threads, 1, 1),
            [.pointer(input), .pointer(values.pointer), .pointer(scalePointer), .int32(Int32(width / 8))])
        try finish("siluMul fp8")
        return try Tensor(
            shape: Array(gateUp.shape.dropLast()) + [width], dtype: .f8e4m3, storage: values,
            rowScales: RowScales(storage: scales.storage, count: rows))
    }

    /// On FP8 tensor cores, with a product that runs there: the norm quantized per row in one kernel (the bf16
    /// normed rows never go to memory, and the product skips its own quantizing pass). Otherwise
    /// ``rmsNorm(_:weight:eps:)``.
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, feeding consumer: Tensor) throws -> Tensor {
        let width = try OpChecks.rmsNorm(x, weight: weight)
        let rows = width == 0 ? 0 : x.elementCount / width
        guard fp8TensorCores, x.rank == 2, consumer.dtype == .f8e4m3, consumer.rowScales != nil,
            consumer.shape.count == 2, consumer.shape[1] == width, width % 16 == 0, consumer.shape[0] % 16 == 0,
            rows > 0, let threads = Self.rowThreads(width8: width / 8)
        else { return try rmsNorm(x, weight: weight, eps: eps) }
        try enter()
        let input = try address(x, op: "rmsNorm", argument: "x")
        let weightPointer = try address(weight, op: "rmsNorm", argument: "weight")
        guard input % 16 == 0, weightPointer % 16 == 0 else { return try rmsNorm(x, weight: weight, eps: eps) }
        let values = try CUDAStorage(pool: pool, byteCount: rows * width)
        let scales = try makeTensor(shape: [rows], dtype: .f32)
        let scalePointer = try address(scales, op: "rmsNorm", argument: "scales", dtype: .f32)
        try kernels.launch(
            "rms_norm_quantize_e4m3_v8", grid: (rows, 1, 1), block: (threads, 1, 1),
            [
                .pointer(input), .pointer(weightPointer), .pointer(values.pointer), .pointer(scalePointer),
                .int32(Int32(width / 8)), .float(eps),
            ])
        try finish("rmsNorm fp8")
        return try Tensor(
            shape: x.shape, dtype: .f8e4m3, storage: values, rowScales: RowScales(storage: scales.storage, count: rows))
    }

    /// The bf16 values `e4m3 * scale` of an 8-bit weight `[rows, columns]`, in a new tensor.
    private func widen(pointer: CUdeviceptr, scales: CUdeviceptr, rows: Int, columns: Int) throws -> Tensor {
        let wide = try makeTensor(shape: [rows, columns])
        let widePointer = try address(wide, op: "linear", argument: "widened weight")
        let count = rows * columns
        if columns % 8 == 0, pointer % 8 == 0, widePointer % 16 == 0 {
            try kernels.launch(
                "widen_e4m3_rows_v8", grid: (max(1, min((count / 8 + 255) / 256, device.multiprocessors * 16)), 1, 1),
                block: (256, 1, 1),
                [
                    .pointer(pointer), .pointer(scales), .pointer(widePointer), .int32(Int32(columns / 8)),
                    .int64(Int64(count / 8)),
                ])
        } else {
            try kernels.launch(
                "widen_e4m3_rows", grid: (max(1, min((count + 255) / 256, device.multiprocessors * 16)), 1, 1),
                block: (256, 1, 1),
                [
                    .pointer(pointer), .pointer(scales), .pointer(widePointer), .int32(Int32(columns)),
                    .int64(Int64(count)),
                ])
        }
        return wide
    }

    /// The address of a quantized activation's row scales, 16-byte aligned as cuBLASLt's scale vectors must
    /// be: rows cut out of a larger quantized tensor at an odd row get their scales copied (the copy is
    /// returned to be kept alive until the product is queued).
    private func alignedRowScales(of x: Tensor, rows: Int) throws -> (pointer: CUdeviceptr, copy: Tensor?) {
        let pointer = try rowScaleAddress(x, op: "linear")
        guard pointer % 16 != 0 else { return (pointer, nil) }
        let copy = try makeTensor(shape: [rows], dtype: .f32)
        let target = try address(copy, op: "linear", argument: "row scales", dtype: .f32)
        try driver.check(
            driver.cuMemcpyDtoDAsync(target, pointer, rows * 4, nil),
            "cuMemcpyDtoDAsync(\(rows * 4) bytes of row scales)")
        return (target, copy)
    }

    /// The device address of an 8-bit weight's row scales.
    private func rowScaleAddress(_ weight: Tensor, op: String) throws -> CUdeviceptr {
        guard let scales = weight.rowScales, let storage = scales.storage as? CUDAStorage else {
            throw TensorError.foreignTensor(
                op: op, expected: "CUDA device",
                found: weight.rowScales?.storage.deviceName ?? "nowhere (no row scales)")
        }
        return storage.pointer + CUdeviceptr(scales.byteOffset)
    }
}
