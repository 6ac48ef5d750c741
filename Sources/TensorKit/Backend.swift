/// Every tensor operation the Qwen2.5-VL model needs, and nothing more.
///
/// The model is written once against this protocol; the CPU backend (fp32, OpenBLAS) is the reference
/// and a GPU backend implements the same ops. Conventions shared by all ops:
/// - Tensors are row-major and contiguous. "Rows" means the first axis; "tokens" is the packed token
///   axis of a batch (many sequences end to end, no padding).
/// - Activations are in ``activationDType``. Weights (made by ``weight(_:dtype:shape:keepingAlive:)``)
///   keep the checkpoint's type (`bf16`, `f16` or `f32`); ops convert them on the fly.
/// - Index lists (`[Int32]`) are small host arrays; a GPU backend copies them over per call.
/// - Ops return new tensors; only ``scatterRows(_:into:at:)`` writes into an existing one.
/// - Shape, type and index errors throw ``TensorError``; nothing a caller passes crashes the process.
public protocol Backend: Sendable {
    /// A short name for logs and errors ("CPU", "CUDA").
    var name: String { get }

    /// The element type of the activations this backend computes in.
    var activationDType: DType { get }

    // MARK: Host <-> device (only at the edges)

    /// Copies the values of `parts`, one after another, into a new tensor of `shape` in
    /// ``activationDType`` (image pixel rows of a batch): no joined host copy is made.
    func upload(concatenating parts: [[Float]], shape: [Int]) throws -> Tensor

    /// Copies a tensor's elements back to the host as `Float`s, row-major.
    func download(_ tensor: Tensor) throws -> [Float]

    /// Copies a tensor's elements back to the host in the type it stores them in (kept by the image and
    /// prefix caches). The default downloads `Float`s.
    func downloadRows(_ tensor: Tensor) throws -> HostRows

    /// Starts copying a tensor's elements to the host as ``downloadRows(_:)`` stores them, without waiting:
    /// the copy runs behind the work already queued and beside what is queued next (on a GPU, on its copy
    /// engine). ``PendingHostRows/wait()`` returns the rows. The default copies at once.
    func downloadRowsLater(_ tensor: Tensor) throws -> PendingHostRows

    /// The elements of `parts`, one after another, as a new tensor of `shape` in ``activationDType``: what
    /// ``downloadRows(_:)`` copied, back on the device. The default widens them to `Float`s and uploads those.
    func upload(rows parts: [HostRows], shape: [Int]) throws -> Tensor

    /// The vision tower's input from resized 8-bit RGB images: `[total patches, layout.rowWidth]` in
    /// ``activationDType``, each image's rows following the previous image's.
    ///
    /// A row is one patch of `patchSize` x `patchSize` pixels laid out [channel][frame][y][x] (the still
    /// image in every frame), each byte replaced by its ``PatchifyLayout/normalization`` value; an image's
    /// rows go by merge block (block row, block column, then row and column inside the block). The result
    /// equals uploading each image's ``PatchifySource/patchRows(layout:)`` with
    /// ``upload(concatenating:shape:)``, which is the default; a GPU backend copies only the bytes over and
    /// cuts the patches on the device.
    ///
    /// - Throws: ``TensorError`` when an image does not fit the layout (``OpChecks/patchify(_:layout:)``).
    func patchify(_ images: [PatchifySource], layout: PatchifyLayout) throws -> Tensor

    /// A weight tensor over checkpoint bytes (for example a memory-mapped safetensors slice).
    ///
    /// The CPU backend wraps the bytes without copying when they are aligned for `dtype`, retaining
    /// `owner` for as long as the tensor lives; the caller guarantees the bytes stay valid and
    /// unchanged while `owner` is alive. With `owner == nil` the bytes are copied. A GPU backend copies
    /// them to the device.
    func weight(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?)
        throws -> Tensor

    /// An 8-bit weight `[out, in]` for ``linear(_:weight:bias:)``: `values` holds E4M3 bit patterns
    /// (``FP8E4M3``) row-major, `rowScales` one fp32 scale per row. The result has dtype ``DType/f8e4m3``
    /// and its ``Tensor/rowScales`` set. The bytes are copied.
    ///
    /// A backend multiplies with it either on 8-bit tensor cores (activations quantized per token, see
    /// ``runsFP8Products``) or by widening the weight to its own precision just before the product.
    func scaledWeight(_ values: UnsafeRawBufferPointer, rowScales: [Float], shape: [Int]) throws -> Tensor

    /// Whether ``linear(_:weight:bias:)`` multiplies 8-bit weights in 8 bits (each activation row
    /// quantized to E4M3 with its own scale): true on GPUs with FP8 tensor cores; false where the weight
    /// is widened and the activations are kept as they are.
    var runsFP8Products: Bool { get }

    /// A table read only through ``embedding(_:ids:)`` (the token embeddings, 1 GiB for a 7B model).
    ///
    /// Same contract as ``weight(_:dtype:shape:keepingAlive:)``, but the backend may keep it in host
    /// memory and gather rows there: a GPU backend then never spends device memory on the whole table.
    /// The default implementation is ``weight(_:dtype:shape:keepingAlive:)``.
    func embeddingTable(_ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?)
        throws -> Tensor

    // MARK: Dense layers

    /// `x W^T + b`: x `[..., in]`, weight `[out, in]` (any ``DType``; an ``DType/f8e4m3`` weight is scaled
    /// by its ``Tensor/rowScales``), bias `[out]` or nil -> `[..., out]`.
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor

    /// A product and the residual connection after it: `residual + x W^T + b`, residual `[..., out]` of the
    /// product's shape. The result equals ``linear(_:weight:bias:)`` followed by ``add(_:_:)`` (the default),
    /// except that a backend adding inside the product rounds the sum once instead of twice.
    func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws -> Tensor

    /// ``linear(_:weight:bias:adding:)`` over row chunks of x that are made one at a time (an MLP's
    /// activations, run in row chunks to bound their memory): `rowChunks` split residual's rows into
    /// consecutive ranges from row 0, `rows(range)` makes x's rows of one range, and the result's rows `range`
    /// are `residual[range] + rows(range) W^T + b`. The result is one tensor of residual's shape, written chunk
    /// by chunk (no joined copy); only one chunk's x need be alive at a time. The default runs
    /// ``linear(_:weight:bias:adding:)`` per chunk and joins the results with ``concatenateRows(_:)``.
    func linear(
        rowChunks: [Range<Int>], of rows: (Range<Int>) throws -> Tensor, weight: Tensor, bias: Tensor?,
        adding residual: Tensor
    ) throws -> Tensor

    /// RMSNorm over the last axis: `x / sqrt(mean(x^2) + eps) * weight`, statistics in fp32.
    /// x `[..., d]`, weight `[d]` -> `[..., d]`.
    func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float) throws -> Tensor

    /// ``rmsNorm(_:weight:eps:)`` whose result is read only by ``linear(_:weight:bias:)`` with `consumer` (or
    /// products sharing its input, such as q, k and v). A backend that multiplies 8-bit weights in 8 bits may
    /// return it already quantized per row (``DType/f8e4m3`` with ``Tensor/rowScales``, as the product would
    /// quantize it), saving a pass over the rows. The default is ``rmsNorm(_:weight:eps:)``.
    func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, feeding consumer: Tensor) throws -> Tensor

    /// Elementwise `a + b` of two tensors of one shape (the residual connection).
    func add(_ a: Tensor, _ b: Tensor) throws -> Tensor

    /// `silu(gate) * up` elementwise, gate and up of one shape (`[tokens, intermediate]`): the SwiGLU
    /// activation when gate and up come from two separate linears.
    func siluMul(gate: Tensor, up: Tensor) throws -> Tensor

    /// The SwiGLU activation of a fused product: each row of `gateUp` `[tokens, 2 * intermediate]` holds
    /// the gate values, then the up values -> `silu(gate) * up`, `[tokens, intermediate]`.
    func siluMul(gateUp: Tensor) throws -> Tensor

    /// ``siluMul(gateUp:)`` whose result is read only by ``linear(_:weight:bias:)`` with `weight` (the MLP's
    /// down projection). A backend that multiplies 8-bit weights in 8 bits may return it already quantized
    /// per row (``DType/f8e4m3`` with ``Tensor/rowScales``, as the product would quantize it), saving a pass
    /// over the widest activation of a layer. The default is ``siluMul(gateUp:)``.
    func siluMul(gateUp: Tensor, feeding weight: Tensor) throws -> Tensor

    /// Exact GELU, `x/2 * (1 + erf(x / sqrt(2)))`, elementwise.
    func gelu(_ x: Tensor) throws -> Tensor

    // MARK: Positions

    /// Rotary embedding with rotate_half: x `[tokens, heads, d]`, cos and sin `[tokens, d]` (one row per
    /// token, prepared by the caller, so one op serves M-RoPE and 2D vision RoPE) ->
    /// `x * cos + rotate_half(x) * sin`, where `rotate_half(x) = [-x[d/2..<d], x[0..<d/2]]`. d must be even.
    func applyRope(_ x: Tensor, cos: Tensor, sin: Tensor) throws -> Tensor

    /// Splits a fused q/k/v product and rotates q and k: `qkv` `[tokens, (heads + 2 * kvHeads) * d]` holds
    /// each token's query heads, then its key heads, then its value heads. Returns query
    /// `[tokens, heads, d]` and key `[tokens, kvHeads, d]` with ``applyRope(_:cos:sin:)`` applied, and
    /// value `[tokens, kvHeads, d]` as stored.
    func splitRope(_ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor) throws
        -> (query: Tensor, key: Tensor, value: Tensor)

    /// ``splitRope(_:heads:kvHeads:cos:sin:)`` followed by full (not causal) attention without prefixes over
    /// the packed sequences of `cuSeqlens` (the vision tower's attention) -> `[tokens, heads, d]`. A backend may
    /// do both in one kernel, the split heads never stored (the CUDA backend does for windows of at most 64
    /// rows on Hopper); the default runs the two ops.
    func splitRopeAttention(
        _ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor, cuSeqlens: [Int32], scale: Float
    ) throws -> Tensor

    /// The cos and sin tables `[tokens, headDim]` of a rotary embedding, in ``activationDType``, for
    /// ``applyRope(_:cos:sin:)`` and ``splitRope(_:heads:kvHeads:cos:sin:)``: ``RotaryTablePlan/expanded()``
    /// rounded once to ``activationDType``. A GPU backend copies only the plan's small angle tables and
    /// position rows over and expands them on the device. The default expands on the host and uploads.
    func rotaryTables(_ plan: RotaryTablePlan) throws -> (cos: Tensor, sin: Tensor)

    // MARK: Rows

    /// Rows of `x` in the order `indices` names them: `out[i] = x[indices[i]]`. Repeats are allowed.
    /// Serves the window permutation (and its inverse) and picking each sequence's last token.
    func gatherRows(_ x: Tensor, indices: [Int32]) throws -> Tensor

    /// Writes `rows[i]` into `destination[indices[i]]` in place (splicing image embeddings into the
    /// image-pad rows). Each destination row may be named once; every handle sharing `destination`'s
    /// storage sees the change.
    func scatterRows(_ rows: Tensor, into destination: Tensor, at indices: [Int32]) throws

    /// The rows of `parts` one after another: parts `[m_i, ...]` agreeing on every axis but the first ->
    /// `[sum m_i, ...]` (assembles cached prefix rows with computed ones; copies rows out of a larger tensor).
    func concatenateRows(_ parts: [Tensor]) throws -> Tensor

    /// Rows of an embedding table `[vocab, d]` (any ``DType``) for `ids`, converted to
    /// ``activationDType``: -> `[ids.count, d]`.
    func embedding(_ table: Tensor, ids: [Int32]) throws -> Tensor

    // MARK: Attention

    /// Softmax attention over packed variable-length sequences.
    ///
    /// query `[tokens, heads, d]`, key and value `[tokens, kvHeads, d]`; `heads` must be a multiple of
    /// `kvHeads` and query head h reads kv head `h / (heads / kvHeads)` (grouped-query attention).
    /// `cuSeqlens` are cumulative lengths `[0, l0, l0+l1, ..., tokens]`: a token attends only inside its
    /// own sequence, and with `causal` only to itself and earlier tokens. Scores are `scale * q . k`,
    /// softmax in fp32. Returns `[tokens, heads, d]`.
    ///
    /// `prefixes` is empty, or holds one row range per sequence: sequence s then also attends to every
    /// row of `prefixes[s]` (all of them, causal or not) before its own rows. The ranges must end at or
    /// before their sequence's start: a prompt prefix shared by several sequences is packed once, as a
    /// sequence of its own, and each sequence that continues it names its rows here.
    func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], prefixes: [Range<Int32>], causal: Bool,
        scale: Float
    ) throws -> Tensor

    /// Whether the model should load fused weights (`[q|k|v]` and `[gate|up]` stacked, the vision MLP
    /// width padded to a multiple of 16) and call ``siluMul(gateUp:)`` and ``splitRope(_:heads:kvHeads:cos:sin:)``:
    /// fewer, larger matrix products for a GPU. The results are the same either way.
    var prefersFusedWeights: Bool { get }
}

extension Backend {
    /// Separate weights unless the backend says otherwise.
    public var prefersFusedWeights: Bool { false }

    /// Widening 8-bit weights unless the backend says otherwise.
    public var runsFP8Products: Bool { false }

    public func siluMul(gateUp: Tensor, feeding weight: Tensor) throws -> Tensor { try siluMul(gateUp: gateUp) }

    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, feeding consumer: Tensor) throws -> Tensor {
        try rmsNorm(x, weight: weight, eps: eps)
    }

    /// The patch rows made on the host (fp32, one image per core at a time) and uploaded.
    public func patchify(_ images: [PatchifySource], layout: PatchifyLayout) throws -> Tensor {
        let rows = try OpChecks.patchify(images, layout: layout)
        var parts = [[Float]](repeating: [], count: images.count)
        parts.withUnsafeMutableBufferPointer { buffer in
            // Each worker fills its own slot; the buffer outlives concurrentPerform.
            nonisolated(unsafe) let slots = buffer
            ConcurrentRows.forEach(count: images.count) {
                slots[$0] = HostPatchify.rows(of: images[$0], layout: layout)
            }
        }
        return try upload(concatenating: parts, shape: [rows, layout.rowWidth])
    }

    public func downloadRows(_ tensor: Tensor) throws -> HostRows { HostRows(try download(tensor)) }

    public func downloadRowsLater(_ tensor: Tensor) throws -> PendingHostRows {
        PendingHostRows(try downloadRows(tensor))
    }

    public func upload(rows parts: [HostRows], shape: [Int]) throws -> Tensor {
        try upload(concatenating: parts.map { $0.floats() }, shape: shape)
    }

    /// Copies host values into a new tensor of `shape` in ``activationDType``.
    public func upload(_ values: [Float], shape: [Int]) throws -> Tensor {
        try upload(concatenating: [values], shape: shape)
    }

    public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, adding residual: Tensor) throws -> Tensor {
        _ = try OpChecks.linear(x, weight: weight, bias: bias, adding: residual)
        return try add(residual, try linear(x, weight: weight, bias: bias))
    }

    public func linear(
        rowChunks: [Range<Int>], of rows: (Range<Int>) throws -> Tensor, weight: Tensor, bias: Tensor?,
        adding residual: Tensor
    ) throws -> Tensor {
        try OpChecks.rowRanges("linear", rowChunks, rows: residual.rowCount)
        let parts = try rowChunks.map {
            try linear(try rows($0), weight: weight, bias: bias, adding: try residual.rows($0))
        }
        return parts.count == 1 ? parts[0] : try concatenateRows(parts)
    }

    public func rotaryTables(_ plan: RotaryTablePlan) throws -> (cos: Tensor, sin: Tensor) {
        let tables = plan.expanded()
        return (try upload(tables.cos, shape: plan.tableShape), try upload(tables.sin, shape: plan.tableShape))
    }

    public func splitRopeAttention(
        _ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor, cuSeqlens: [Int32], scale: Float
    ) throws -> Tensor {
        try splitRopeThenAttention(
            qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin, cuSeqlens: cuSeqlens, scale: scale)
    }

    /// ``splitRopeAttention(_:heads:kvHeads:cos:sin:cuSeqlens:scale:)`` as two ops (its default): for a backend
    /// whose own version falls back to them.
    public func splitRopeThenAttention(
        _ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor, cuSeqlens: [Int32], scale: Float
    ) throws -> Tensor {
        let (query, key, value) = try splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
        return try attention(query: query, key: key, value: value, cuSeqlens: cuSeqlens, causal: false, scale: scale)
    }

    /// Attention without shared prefixes.
    public func attention(
        query: Tensor, key: Tensor, value: Tensor, cuSeqlens: [Int32], causal: Bool, scale: Float
    ) throws -> Tensor {
        try attention(
            query: query, key: key, value: value, cuSeqlens: cuSeqlens, prefixes: [], causal: causal, scale: scale)
    }

    public func embeddingTable(
        _ bytes: UnsafeRawBufferPointer, dtype: DType, shape: [Int], keepingAlive owner: AnyObject?
    ) throws -> Tensor {
        try weight(bytes, dtype: dtype, shape: shape, keepingAlive: owner)
    }
}

extension Backend {
    /// ``rmsNorm(_:weight:eps:feeding:)`` when a product reads the result, else ``rmsNorm(_:weight:eps:)``.
    public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float, feeding consumer: Tensor?) throws -> Tensor {
        guard let consumer else { return try rmsNorm(x, weight: weight, eps: eps) }
        return try rmsNorm(x, weight: weight, eps: eps, feeding: consumer)
    }
}
