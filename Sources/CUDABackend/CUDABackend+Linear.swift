import CCUDA
import TensorKit

/// Products: bf16 through cuBLASLt (``MatmulEngine``), 8-bit weights through ``scaledProduct``, and the
/// residual connection added inside the product as cuBLASLt's C matrix.
extension CUDABackend {
    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        let sizes = try OpChecks.linear(x, weight: weight, bias: bias)
        try enter()
        let out = try makeTensor(shape: sizes.outputShape)
        try product(
            x, weight: weight, bias: bias, sizes: sizes, out: try address(out, op: "linear", argument: "output"),
            residual: nil)
        return out
    }

    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws -> Tensor {
        _ = try OpChecks.linear(x, weight: weight, bias: bias, adding: residual)
        guard residual.rowCount > 0 else {
            try enter()
            return try makeTensor(shape: residual.shape)
        }
        return try linear(
            rowChunks: [0..<residual.rowCount], of: { _ in x }, weight: weight, bias: bias, adding: residual)
    }

    /// Each chunk's product writes its rows of the one output, cuBLASLt adding the residual's rows as it
    /// stores them (its C matrix): the residual connection costs no pass of its own.
    public func linear(
        rowChunks: [Range<Int>], of rows: (Range<Int>) throws -> Tensor, weight: Tensor, bias: Tensor?,
        adding residual: Tensor
    ) throws -> Tensor {
        try OpChecks.rowRanges("linear", rowChunks, rows: residual.rowCount)
        try enter()
        let out = try makeTensor(shape: residual.shape)
        let outBase = try address(out, op: "linear", argument: "output")
        let residualBase = try address(residual, op: "linear", argument: "residual")
        let rowBytes = residual.rowWidth * DType.bf16.byteSize
        for range in rowChunks {
            let x = try rows(range)
            let sizes = try OpChecks.linear(x, weight: weight, bias: bias, adding: try residual.rows(range))
            try enter()
            let offset = CUdeviceptr(range.lowerBound * rowBytes)
            try product(
                x, weight: weight, bias: bias, sizes: sizes, out: outBase + offset, residual: residualBase + offset)
        }
        return out
    }

    /// `out = x W^T (+ b) (+ residual)` into device memory (`out` and `residual` hold the product's rows),
    /// booked as one "linear" op.
    private func product(
        _ x: Tensor, weight: Tensor, bias: Tensor?, sizes: OpChecks.LinearSizes, out: CUdeviceptr,
        residual: CUdeviceptr?
    ) throws {
        let (m, n, k) = (sizes.rows, sizes.outFeatures, sizes.inFeatures)
        guard m > 0, n > 0 else { return }
        if weight.dtype == .f8e4m3 {
            return try scaledProduct(x, weight: weight, bias: bias, sizes: sizes, out: out, residual: residual)
        }
        let x = try widenedActivation(x)
        let xPointer = try address(x, op: "linear", argument: "x")
        let wPointer = try address(weight, op: "linear", argument: "weight")
        let bPointer = try bias.map { try address($0, op: "linear", argument: "bias") }
        try bf16Product(x: xPointer, weight: wPointer, bias: bPointer, residual: residual, out: out, m: m, n: n, k: k)
        try finish("linear n=\(n) k=\(k)\(m < 64 ? " m<64" : "")")
    }

    /// `out = x W^T (+ b) (+ residual)` of bf16 operands through cuBLASLt. It also takes rows that are not
    /// 16-byte multiples (slower kernels); the plain kernel is only for shapes it refuses.
    func bf16Product(
        x: CUdeviceptr, weight: CUdeviceptr, bias: CUdeviceptr?, residual: CUdeviceptr? = nil, out: CUdeviceptr,
        m: Int, n: Int, k: Int
    ) throws {
        if try matmul.run(x: x, weight: weight, bias: bias, residual: residual, out: out, m: m, n: n, k: k) { return }
        let plain = try residual != nil && matmul.run(x: x, weight: weight, bias: bias, out: out, m: m, n: n, k: k)
        if !plain {
            try kernels.launch(
                "linear_fallback", grid: ((n + 7) / 8, m, 1), block: (32, 8, 1),
                [
                    .pointer(x), .pointer(weight), .pointer(bias ?? 0), .pointer(out),
                    .int32(Int32(m)), .int32(Int32(n)), .int32(Int32(k)),
                ])
        }
        if let residual { try addInPlace(residual, to: out, count: m * n) }
    }

    /// `target += residual` elementwise over `count` bf16 values (a product whose library could not add it).
    func addInPlace(_ residual: CUdeviceptr, to target: CUdeviceptr, count: Int) throws {
        if Self.allowsVectors(width: count, [residual, target]) {
            try kernels.launch(
                "add_v8", grid: elementwiseGrid(count / 8), block: (256, 1, 1),
                [.pointer(target), .pointer(residual), .pointer(target), .int64(Int64(count / 8))])
        } else {
            try kernels.launch(
                "add", grid: elementwiseGrid(count), block: (256, 1, 1),
                [.pointer(target), .pointer(residual), .pointer(target), .int64(Int64(count))])
        }
    }
}
