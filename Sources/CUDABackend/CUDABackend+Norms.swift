import CCUDA
import TensorKit

extension CUDABackend {
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor {
        let width = try OpChecks.rmsNorm(x, weight: weight)
        try enter()
        let out = try makeTensor(shape: x.shape)
        let rows = width == 0 ? 0 : x.elementCount / width
        guard rows > 0 else { return out }
        let pointers = [
            try address(x, op: "rmsNorm", argument: "x"), try address(weight, op: "rmsNorm", argument: "weight"),
            try address(out, op: "rmsNorm", argument: "output"),
        ]
        let vectorized = Self.allowsVectors(width: width, pointers)
        try kernels.launch(
            vectorized ? "rms_norm_v8" : "rms_norm", grid: (rows, 1, 1), block: (vectorized ? 128 : 256, 1, 1),
            pointers.map { .pointer($0) } + [.int32(Int32(width)), .float(eps)])
        try finish("rmsNorm")
        return out
    }

    public func addRMSNorm(_ a: Tensor, _ b: Tensor, weight: Tensor, eps: Float) throws -> (sum: Tensor, normed: Tensor)
    {
        try OpChecks.sameShape("addRMSNorm", a, b, names: ("a", "b"))
        return try addRMSNorm(a, rowChunks: [b], weight: weight, eps: eps)
    }

    /// One launch per chunk, each on its rows of `a` and of the two outputs: no joined copy of the chunks.
    public func addRMSNorm(_ a: Tensor, rowChunks: [Tensor], weight: Tensor, eps: Float) throws
        -> (sum: Tensor, normed: Tensor)
    {
        try OpChecks.rowChunks("addRMSNorm", rowChunks, of: a)
        let width = try OpChecks.rmsNorm(a, weight: weight)
        try enter()
        let sum = try makeTensor(shape: a.shape)
        let normed = try makeTensor(shape: a.shape)
        guard width > 0, a.elementCount > 0 else { return (sum, normed) }
        let base = (
            a: try address(a, op: "addRMSNorm", argument: "a"),
            weight: try address(weight, op: "addRMSNorm", argument: "weight"),
            sum: try address(sum, op: "addRMSNorm", argument: "sum"),
            normed: try address(normed, op: "addRMSNorm", argument: "normed")
        )
        // Per chunk: a, b, weight, sum and normed at the chunk's first row, and its row count.
        var launches = [(pointers: [CUdeviceptr], rows: Int)]()
        var offset: CUdeviceptr = 0
        for chunk in rowChunks where chunk.rowCount > 0 {
            let b = try address(chunk, op: "addRMSNorm", argument: "rowChunks")
            launches.append(
                ([base.a + offset, b, base.weight, base.sum + offset, base.normed + offset], chunk.rowCount))
            offset += CUdeviceptr(chunk.byteCount)
        }
        guard launches.allSatisfy({ Self.allowsVectors(width: width, $0.pointers) }) else {
            // Odd widths or views off 16-byte boundaries: the two separate kernels over the joined chunks.
            let added = try add(a, rowChunks.count == 1 ? rowChunks[0] : try concatenateRows(rowChunks))
            return (added, try rmsNorm(added, weight: weight, eps: eps))
        }
        for (pointers, rows) in launches {
            try kernels.launch(
                "add_rms_norm_v8", grid: (rows, 1, 1), block: (128, 1, 1),
                pointers.map { .pointer($0) } + [.int32(Int32(width)), .float(eps)])
        }
        try finish("addRMSNorm")
        return (sum, normed)
    }

    /// Whether rows of `width` bf16 elements at these addresses can be read 16 bytes (8 values) at a time.
    static func allowsVectors(width: Int, _ pointers: [CUdeviceptr]) -> Bool {
        width % 8 == 0 && pointers.allSatisfy { $0 % 16 == 0 }
    }
}
