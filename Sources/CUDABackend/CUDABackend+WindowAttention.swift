import CCUDA
import TensorKit

extension CUDABackend {
    /// Window attention (every sequence at most 64 rows) in one kernel from the fused q/k/v product, the rotary
    /// embedding applied in shared memory (``AttentionWindowKernelSource``), where ``fusedWindowAttention`` is on
    /// and the head dimension has the kernel; otherwise ``splitRope(_:heads:kvHeads:cos:sin:)`` and
    /// ``attention(query:key:value:cuSeqlens:prefixes:causal:scale:)``. The same bits either way.
    public func splitRopeAttention(
        _ qkv: Tensor, heads: Int, kvHeads: Int, cos: Tensor, sin: Tensor, cuSeqlens: [Int32], scale: Float
    ) throws -> Tensor {
        let sizes = try OpChecks.splitRope(qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin)
        try OpChecks.sequenceLengths(cuSeqlens, tokens: sizes.tokens)
        guard
            Self.runsWindowKernel(
                enabled: fusedWindowAttention, headDim: sizes.headDim, heads: heads, kvHeads: kvHeads,
                cuSeqlens: cuSeqlens, elements: qkv.elementCount)
        else {
            return try splitRopeThenAttention(
                qkv, heads: heads, kvHeads: kvHeads, cos: cos, sin: sin, cuSeqlens: cuSeqlens, scale: scale)
        }
        try enter()
        let d = sizes.headDim
        let out = try makeTensor(shape: [sizes.tokens, heads, d])
        let tiles = AttentionTiling.tiles(cuSeqlens: cuSeqlens)
        guard !tiles.isEmpty else { return out }
        let deviceTiles = try deviceIndices(tiles)
        let op = "attention d=\(d) full longest<=\(AttentionTiling.lengthBucket(cuSeqlens)) from q/k/v"
        try withExtendedLifetime(deviceTiles.tensor) {
            try kernels.launch(
                AttentionWindowKernelSource.kernelName(headDim: d), grid: (tiles.count / 5, heads, 1),
                block: (AttentionWindowKernelSource.threads, 1, 1),
                sharedBytes: AttentionWindowKernelSource.sharedBytes(headDim: d),
                [
                    .pointer(try address(qkv, op: op, argument: "qkv")),
                    .pointer(try address(cos, op: op, argument: "cos")),
                    .pointer(try address(sin, op: op, argument: "sin")),
                    .pointer(try address(out, op: op, argument: "output")), .pointer(deviceTiles.pointer),
                    .int32(Int32(heads)), .int32(Int32(kvHeads)), .float(scale * 1.4426950408889634),
                ])
        }
        try finish(op)
        return out
    }

    /// Whether ``splitRopeAttention(_:heads:kvHeads:cos:sin:cuSeqlens:scale:)`` runs the window kernel: switched
    /// on, a compiled head dimension, grouped heads that divide, every sequence one key tile long, and element
    /// offsets that fit the kernel's 32 bits.
    public static func runsWindowKernel(
        enabled: Bool, headDim: Int, heads: Int, kvHeads: Int, cuSeqlens: [Int32], elements: Int
    ) -> Bool {
        guard enabled, AttentionWindowKernelSource.headDims.contains(headDim), kvHeads > 0, heads % kvHeads == 0,
            elements < Int(Int32.max)
        else { return false }
        return zip(cuSeqlens, cuSeqlens.dropFirst()).allSatisfy {
            $1 - $0 <= Int32(AttentionWindowKernelSource.longestSequence)
        }
    }
}
