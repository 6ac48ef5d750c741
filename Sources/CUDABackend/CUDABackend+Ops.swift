import CCUDA
import TensorKit

extension CUDABackend {
    /// Blocks across a row of `width` elements (one per thread) for a kernel whose grid's second axis
    /// walks the rows: the block size of 128 to 256 threads that leaves the fewest threads idle.
    static func rowGrid(width: Int) -> (blocks: Int, threads: Int) {
        let options = stride(from: 256, through: 128, by: -32).map { threads in
            (blocks: max(1, (width + threads - 1) / threads), threads: threads)
        }
        return options.min { $0.blocks * $0.threads < $1.blocks * $1.threads } ?? (1, 256)
    }

    /// Blocks for a grid-stride elementwise kernel over `count` elements.
    func elementwiseGrid(_ count: Int) -> (Int, Int, Int) {
        (max(1, min((count + 255) / 256, device.multiprocessors * 16)), 1, 1)
    }

    public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        try OpChecks.sameShape("add", a, b, names: ("a", "b"))
        return try binary("add", vectorKernel: "add_v8", a, b, names: ("a", "b"))
    }

    public func siluMul(gate: Tensor, up: Tensor) throws -> Tensor {
        try OpChecks.sameShape("siluMul", gate, up, names: ("gate", "up"))
        return try binary("silu_mul", gate, up, names: ("gate", "up"))
    }

    /// An elementwise kernel over two tensors of one shape; `vectorKernel` (8 elements per thread) when the
    /// count and addresses allow 16-byte access.
    private func binary(
        _ kernel: String, vectorKernel: String? = nil, _ a: Tensor, _ b: Tensor, names: (String, String)
    ) throws -> Tensor {
        try enter()
        let out = try makeTensor(shape: a.shape)
        let count = a.elementCount
        guard count > 0 else { return out }
        let pointers = [
            try address(a, op: kernel, argument: names.0), try address(b, op: kernel, argument: names.1),
            try address(out, op: kernel, argument: "output"),
        ]
        if let vectorKernel, Self.allowsVectors(width: count, pointers) {
            try kernels.launch(
                vectorKernel, grid: elementwiseGrid(count / 8), block: (256, 1, 1),
                pointers.map { .pointer($0) } + [.int64(Int64(count / 8))])
        } else {
            try kernels.launch(
                kernel, grid: elementwiseGrid(count), block: (256, 1, 1),
                pointers.map { .pointer($0) } + [.int64(Int64(count))])
        }
        try finish(kernel)
        return out
    }

    public func siluMul(gateUp: Tensor) throws -> Tensor {
        let width = try OpChecks.gateUp(gateUp)
        try enter()
        let out = try makeTensor(shape: Array(gateUp.shape.dropLast()) + [width])
        let count = out.elementCount
        guard count > 0 else { return out }
        let pointers = [
            try address(gateUp, op: "siluMul", argument: "gateUp"), try address(out, op: "siluMul", argument: "output"),
        ]
        if Self.allowsVectors(width: width, pointers) {
            let rows = count / width
            let (blocks, threads) = Self.rowGrid(width: width / 8)
            try kernels.launch(
                "silu_mul_fused_v8", grid: (blocks, min(rows, 65535), 1), block: (threads, 1, 1),
                pointers.map { .pointer($0) } + [.int32(Int32(width / 8)), .int32(Int32(rows))])
        } else {
            try kernels.launch(
                "silu_mul_fused", grid: elementwiseGrid(count), block: (256, 1, 1),
                pointers.map { .pointer($0) } + [.int32(Int32(width)), .int64(Int64(count))])
        }
        try finish("siluMul")
        return out
    }

    public func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> (query: Tensor, key: Tensor, value: Tensor)
    {
        let sizes = try OpChecks.splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
        try enter()
        let (tokens, d) = (sizes.tokens, sizes.headDim)
        let q = try makeTensor(shape: [tokens, heads, d])
        let k = try makeTensor(shape: [tokens, kvHeads, d])
        let v = try makeTensor(shape: [tokens, kvHeads, d])
        let pairs = tokens * (heads + 2 * kvHeads) * (d / 2)
        guard pairs > 0 else { return (q, k, v) }
        let pointers = [
            try address(qkv, op: "splitRope", argument: "qkv"), try address(cos, op: "splitRope", argument: "cos"),
            try address(sin, op: "splitRope", argument: "sin"), try address(q, op: "splitRope", argument: "query"),
            try address(k, op: "splitRope", argument: "key"), try address(v, op: "splitRope", argument: "value"),
        ]
        // Eight pairs per thread when each half-row is whole 16-byte vectors.
        let vectorized = Self.allowsVectors(width: d / 2, pointers)
        let threads = vectorized ? pairs / 8 : pairs
        try kernels.launch(
            vectorized ? "split_rope_v8" : "split_rope", grid: ((threads + 255) / 256, 1, 1), block: (256, 1, 1),
            pointers.map { .pointer($0) } + [
                .int32(Int32(tokens)), .int32(Int32(heads)), .int32(Int32(kvHeads)), .int32(Int32(d)),
            ])
        try finish("splitRope")
        return (q, k, v)
    }

    public func gelu(_ x: Tensor) throws -> Tensor {
        try enter()
        let out = try makeTensor(shape: x.shape)
        let count = x.elementCount
        guard count > 0 else { return out }
        try kernels.launch(
            "gelu", grid: elementwiseGrid(count), block: (256, 1, 1),
            [
                .pointer(try address(x, op: "gelu", argument: "x")),
                .pointer(try address(out, op: "gelu", argument: "output")),
                .int64(Int64(count)),
            ])
        try finish("gelu")
        return out
    }

    public func applyRope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor {
        let sizes = try OpChecks.rope(x, cos: cos, sin: sin)
        try enter()
        let out = try makeTensor(shape: x.shape)
        let pairs = sizes.tokens * sizes.heads * (sizes.headDim / 2)
        guard pairs > 0 else { return out }
        try kernels.launch(
            "rope", grid: ((pairs + 255) / 256, 1, 1), block: (256, 1, 1),
            [
                .pointer(try address(x, op: "applyRope", argument: "x")),
                .pointer(try address(cos, op: "applyRope", argument: "cos")),
                .pointer(try address(sin, op: "applyRope", argument: "sin")),
                .pointer(try address(out, op: "applyRope", argument: "output")),
                .int32(Int32(sizes.tokens)), .int32(Int32(sizes.heads)), .int32(Int32(sizes.headDim)),
            ])
        try finish("applyRope")
        return out
    }

    /// Copies the plan's angle tables, column sources and position rows over in one staged upload and expands
    /// them on the device (`rotary_tables`): the same bf16 values as the host tables uploaded.
    public func rotaryTables(_ plan: RotaryTablePlan) throws -> (cos: Tensor, sin: Tensor) {
        try enter()
        let cos = try makeTensor(shape: plan.tableShape)
        let sin = try makeTensor(shape: plan.tableShape)
        let half = plan.headDim / 2
        guard plan.tokens > 0, half > 0 else { return (cos, sin) }
        // 4-byte words: angle cosines, angle sines, each column's component, each column's frequency, positions.
        let angles = plan.angleCos.count
        let sources = plan.columns.map { Int32($0.component) } + plan.columns.map { Int32($0.frequency) }
        let words = 2 * angles + sources.count + plan.positions.count
        let staged = try stagedTensor(shape: [words], dtype: .f32) { target in
            var offset = 0
            func append(_ bytes: UnsafeRawBufferPointer) {
                UnsafeMutableRawBufferPointer(rebasing: target[offset..<(offset + bytes.count)]).copyMemory(from: bytes)
                offset += bytes.count
            }
            plan.angleCos.withUnsafeBytes(append)
            plan.angleSin.withUnsafeBytes(append)
            sources.withUnsafeBytes(append)
            plan.positions.withUnsafeBytes(append)
        }
        let base = try address(staged, op: "rotaryTables", argument: "plan", dtype: .f32)
        let pairs = plan.tokens * half
        try withExtendedLifetime(staged) {
            try kernels.launch(
                "rotary_tables", grid: ((pairs + 255) / 256, 1, 1), block: (256, 1, 1),
                [
                    .pointer(base), .pointer(base + CUdeviceptr(4 * angles)), .pointer(base + CUdeviceptr(8 * angles)),
                    .pointer(base + CUdeviceptr(4 * (2 * angles + sources.count))),
                    .pointer(try address(cos, op: "rotaryTables", argument: "cos")),
                    .pointer(try address(sin, op: "rotaryTables", argument: "sin")),
                    .int32(Int32(plan.tokens)), .int32(Int32(half)), .int32(Int32(plan.frequencies)),
                ])
        }
        try finish("rotaryTables")
        return (cos, sin)
    }

    public func gatherRows(_ x: Tensor, indices: [Int32]) throws -> Tensor {
        let shape = try OpChecks.gatherRows(x, indices: indices)
        try enter()
        let source = try address(x, op: "gatherRows", argument: "x")
        let out = try makeTensor(shape: shape)
        guard !indices.isEmpty, x.rowWidth > 0 else { return out }
        let deviceIndices = try deviceIndices(indices)
        try withExtendedLifetime(deviceIndices.tensor) {
            try kernels.launch(
                "gather_rows", grid: (indices.count, 1, 1), block: (128, 1, 1),
                [
                    .pointer(source), .pointer(deviceIndices.pointer),
                    .pointer(try address(out, op: "gatherRows", argument: "output")), .int32(Int32(x.rowWidth)),
                ])
        }
        try finish("gatherRows")
        return out
    }

    public func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws {
        try OpChecks.scatterRows(rows, into: destination, at: indices)
        try enter()
        let source = try address(rows, op: "scatterRows", argument: "rows")
        let target = try address(destination, op: "scatterRows", argument: "destination")
        guard !indices.isEmpty, rows.rowWidth > 0 else { return }
        let deviceIndices = try deviceIndices(indices)
        try withExtendedLifetime(deviceIndices.tensor) {
            try kernels.launch(
                "scatter_rows", grid: (indices.count, 1, 1), block: (128, 1, 1),
                [.pointer(source), .pointer(deviceIndices.pointer), .pointer(target), .int32(Int32(rows.rowWidth))])
        }
        try finish("scatterRows")
    }

    public func concatenateRows(_ parts: [Tensor]) throws -> Tensor {
        let shape = try OpChecks.concatenateRows(parts)
        try enter()
        let out = try makeTensor(shape: shape, dtype: parts[0].dtype)
        var target = try address(out, op: "concatenateRows", argument: "output", dtype: out.dtype)
        for part in parts where part.byteCount > 0 {
            let source = try address(part, op: "concatenateRows", argument: "parts", dtype: out.dtype)
            // Queued on the default stream behind the ops that wrote the part; the host never waits (the
            // synchronous cuMemcpyDtoD entered the kernel for every part: 21% of a server's CPU with cached
            // prefixes, assembled from three parts per layer).
            try driver.check(
                driver.cuMemcpyDtoDAsync(target, source, part.byteCount, nil),
                "cuMemcpyDtoDAsync(\(part.byteCount) bytes)")
            target += CUdeviceptr(part.byteCount)
        }
        try finish("concatenateRows")
        return out
    }

    public func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], prefixes: [Range<Int32>], causal: Bool,
        scale: Float
    ) throws -> Tensor {
        let sizes = try OpChecks.attention(query: query, key: key, value: value, cuSeqlens: cuSeqlens)
        try OpChecks.attentionPrefixes(prefixes, cuSeqlens: cuSeqlens)
        guard AttentionKernelSource.headDims.contains(sizes.headDim) else {
            throw TensorError.shapeMismatch(
                op: "attention",
                detail:
                    "the CUDA kernel supports head dimensions \(AttentionKernelSource.headDims), got \(sizes.headDim)")
        }
        // The kernel computes element offsets in 32 bits.
        guard query.elementCount < Int(Int32.max), key.elementCount < Int(Int32.max) else {
            throw TensorError.shapeMismatch(
                op: "attention",
                detail: "the CUDA kernel takes fewer than 2^31 elements per operand, got \(query.shape)")
        }
        try enter()
        let out = try makeTensor(shape: query.shape)
        // Warpgroup products on Hopper (both towers); elsewhere the decoder's head dimension 128 takes two 16-row
        // tiles a warp where the device runs that well.
        let kernel = attentionKernel(headDim: sizes.headDim)
        // The kernels pack the query heads of a kv head into their blocks' rows (grouped heads only).
        let group = packedAttention ? sizes.heads / max(sizes.kvHeads, 1) : 1
        let tiles = AttentionTiling.tiles(cuSeqlens: cuSeqlens, prefixes: prefixes, causal: causal, group: group)
        guard !tiles.isEmpty, sizes.heads > 0 else { return out }
        let deviceTiles = try deviceIndices(tiles)
        try withExtendedLifetime(deviceTiles.tensor) {
            try kernels.launch(
                kernel.name, grid: (tiles.count / 5, sizes.heads / group, 1), block: (kernel.threads, 1, 1),
                sharedBytes: kernel.sharedBytes,
                [
                    .pointer(try address(query, op: "attention", argument: "query")),
                    .pointer(try address(key, op: "attention", argument: "key")),
                    .pointer(try address(value, op: "attention", argument: "value")),
                    .pointer(try address(out, op: "attention", argument: "output")), .pointer(deviceTiles.pointer),
                    .int32(Int32(sizes.heads)), .int32(Int32(sizes.kvHeads)), .float(scale * 1.4426950408889634),
                    .int32(causal ? 1 : 0),
                ])
        }
        try finish(
            "attention d=\(sizes.headDim) \(causal ? "causal" : "full") longest<="
                + "\(AttentionTiling.lengthBucket(cuSeqlens))\(prefixes.isEmpty ? "" : " prefix")")
        return out
    }
}

extension CUDABackend {
    /// The attention kernel for `headDim` on this device, with its block size and dynamic shared memory.
    func attentionKernel(headDim: Int) -> (name: String, threads: Int, sharedBytes: Int) {
        if hopperAttention && AttentionHopperKernelSource.headDims.contains(headDim) {
            return (
                AttentionHopperKernelSource.kernelName(headDim: headDim), AttentionHopperKernelSource.threads,
                AttentionHopperKernelSource.sharedBytes(headDim: headDim)
            )
        }
        if wideAttention && AttentionWideKernelSource.headDims.contains(headDim) {
            return (
                AttentionWideKernelSource.kernelName(headDim: headDim), AttentionWideKernelSource.threads,
                AttentionWideKernelSource.sharedBytes(headDim: headDim)
            )
        }
        return (AttentionKernelSource.kernelName(headDim: headDim), 128, 0)
    }
}

/// How the attention kernel's blocks cover the packed sequences.
enum AttentionTiling {
    /// Query rows per block.
    static let rowsPerBlock = 64

    /// The longest sequence's length rounded up to a power of two (profile rows).
    static func lengthBucket(_ cuSeqlens: [Int32]) -> Int {
        let longest = Int(zip(cuSeqlens, cuSeqlens.dropFirst()).map { $1 - $0 }.max() ?? 0)
        var bucket = 1
        while bucket < longest { bucket *= 2 }
        return bucket
    }

    /// Five ints per block (first query row, sequence start, sequence end, prefix start, prefix end);
    /// empty sequences get none. A block computes the rows of its 64 that lie in its sequence.
    ///
    /// With `group` > 1 a block's rows pack the `group` query heads of one kv head, token-major: row
    /// `token * group + h` is head h (of the group) at `token`, so a sequence of n tokens has `n * group` rows and
    /// its blocks' first rows count in those (the kernel's `row_token` maps a row back). With 1, a row is a token.
    ///
    /// Causal attention, where a block's work grows with its last row, changes two things:
    /// - A sequence's blocks end at its end, so the partly filled block is the first one, which reads the
    ///   fewest keys (its first row may lie before the sequence).
    /// - The blocks are sorted by the key rows they read (prefix plus own rows up to their last query row),
    ///   most first, so that the blocks launched last are the short ones and no long block runs alone at the end.
    static func tiles(cuSeqlens: [Int32], prefixes: [Range<Int32>] = [], causal: Bool = false, group: Int = 1)
        -> [Int32]
    {
        var tiles = [[Int32]]()
        let rows = Int32(rowsPerBlock)
        let group = Int32(max(group, 1))
        for (index, (start, end)) in zip(cuSeqlens, cuSeqlens.dropFirst()).enumerated() where end > start {
            let prefix = prefixes.isEmpty ? 0..<0 : prefixes[index]
            let packedRows = (end - start) * group
            let blocks = (packedRows + rows - 1) / rows
            let first = start * group + (causal ? packedRows - blocks * rows : 0)
            for block in 0..<blocks {
                tiles.append([first + block * rows, start, end, prefix.lowerBound, prefix.upperBound])
            }
        }
        if causal {
            // Work of a block: its prefix rows plus the rows of its own sequence up to its last row's token.
            let work = { (tile: [Int32]) in
                Int(tile[4] - tile[3]) + Int(min(tile[2], token(ofRow: tile[0] + rows - 1, group: group) + 1) - tile[1])
            }
            tiles.sort { work($0) > work($1) }
        }
        return tiles.flatMap { $0 }
    }

    /// The token of packed query row `row` (the kernels' `row_token`): -1 before the first.
    static func token(ofRow row: Int32, group: Int32) -> Int32 {
        group == 1 ? row : (row >= 0 ? row / group : -1)
    }
}
