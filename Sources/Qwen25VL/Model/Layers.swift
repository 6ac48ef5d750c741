import TensorKit

/// Most rows an MLP works on at once (``GatedMLP``), per tower: bounds the activation memory of a batch
/// without changing its results. Large enough that the matrix products stay efficient.
public struct MLPRowChunks: Sendable, Equatable {
    public var text: Int
    public var vision: Int

    public init(text: Int, vision: Int) {
        self.text = text
        self.vision = vision
    }

    /// 2048 decoder rows (a `[2048, 37888]` gate/up product, 155 MB in bf16 for the 7B) and 11,264 vision
    /// rows: for the 7B about the decoder chunk's memory (a `[11264, 6848]` product), and fewer chunks
    /// of the vision tower's narrow products (a 768x512 image has 1944 patch rows; W4's eleven images run
    /// in two chunks instead of three).
    public static let standard = MLPRowChunks(text: 2048, vision: 11264)

    /// With 8-bit weights (half the weight memory left for activations): 4096 decoder rows, where the FP8
    /// products run closer to their peak than at 2048 (8192 where memory allows passes at the latency cap
    /// anyway, `TokenBudget.gpuPlan`), and twice the vision rows.
    public static let eightBit = MLPRowChunks(text: 4096, vision: 22528)
}

/// `x W^T + b`, the weight kept in the checkpoint's element type.
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.linear(x, weight: weight, bias: bias)
    }

    /// `residual + x W^T + b`: the product and the residual connection after it.
    func callAsFunction(_ x: Tensor, adding residual: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.linear(x, weight: weight, bias: bias, adding: residual)
    }
}

/// The SwiGLU MLP shared by the decoder and the vision blocks: `down(silu(gate(x)) * up(x))`.
///
/// With fused weights, gate and up are one product whose rows are `[gate | up]`, each half padded with
/// zero rows to a multiple of 16 (and `down` with zero columns to match): silu(0) * 0 = 0 meets a zero
/// weight column, so the padding changes nothing but the speed of the products.
struct GatedMLP {
    enum Input {
        case separate(gate: Linear, up: Linear)
        case fused(Linear)
    }

    let input: Input
    let down: Linear

    /// The three products of the MLP, whichever tower it belongs to.
    enum Part: CaseIterable {
        case gate, up, down

        var decoderTensor: DecoderTensor {
            switch self {
            case .gate: .gateProj
            case .up: .upProj
            case .down: .downProj
            }
        }

        var visionTensor: VisionBlockTensor {
            switch self {
            case .gate: .gateProj
            case .up: .upProj
            case .down: .downProj
            }
        }
    }

    /// Loads the gate, up and down products named by `name` (with biases when `bias`), fused when the
    /// backend prefers it.
    init(
        bias: Bool, intermediateSize: Int, weights: any WeightSource, backend: any Backend,
        name: (Part, ParameterKind) -> WeightName
    ) throws {
        func linear(_ part: Part) throws -> Linear {
            Linear(
                weight: try weights.linearWeight(name(part, .weight), on: backend),
                bias: bias ? try weights.tensor(name(part, .bias), on: backend) : nil)
        }
        guard backend.prefersFusedWeights else {
            input = .separate(gate: try linear(.gate), up: try linear(.up))
            down = try linear(.down)
            return
        }
        let padded = (intermediateSize + 15) / 16 * 16
        let halves: [Part] = [.gate, .up]
        input = .fused(
            Linear(
                weight: try weights.linearWeight(
                    halves.map { name($0, .weight) }, rowsEach: padded, columns: nil, on: backend),
                bias: bias
                    ? try weights.stackedTensor(
                        halves.map { name($0, .bias) }, rowsEach: padded, columns: nil, on: backend)
                    : nil))
        down = Linear(
            weight: try weights.linearWeight(
                [name(.down, .weight)], rowsEach: nil, columns: padded, on: backend),
            bias: bias ? try weights.tensor(name(.down, .bias), on: backend) : nil)
    }

    /// `residual + mlp(x)`, the MLP working on at most `rowChunk` of x's rows at a time: the
    /// `[rows, 2 x intermediate]` gate/up product is the largest activation of a layer, so chunking bounds a
    /// batch's working memory. Each chunk's down projection writes its rows of the one result and adds the
    /// residual's rows as it does (``Backend/linear(rowChunks:of:weight:bias:adding:)``). Row-wise ops: any
    /// chunk size gives the same results (to the rounding of a BLAS that blocks products of different row
    /// counts differently).
    func callAsFunction(_ x: Tensor, adding residual: Tensor, _ backend: any Backend, rowChunk: Int) throws -> Tensor {
        try backend.linear(
            rowChunks: Self.rowChunks(rows: x.shape[0], most: rowChunk),
            of: { try activation(try x.rows($0), backend) },
            weight: down.weight, bias: down.bias, adding: residual)
    }

    /// Consecutive chunks of at most `most` rows (all rows when `most` is 0), of about equal size (no small
    /// remainder chunk that would read all the weights for a few rows), each starting at a multiple of 8
    /// rows where `most` allows: a chunk of rows quantized per row then starts its row scales on a 32-byte
    /// boundary, as 8-bit products need them.
    static func rowChunks(rows: Int, most: Int) -> [Range<Int>] {
        guard rows > 0 else { return [] }
        guard most > 0, rows > most else { return [0..<rows] }
        let count = (rows + most - 1) / most
        let size = max(1, min(most, ((rows + count - 1) / count + 7) / 8 * 8))
        return stride(from: 0, to: rows, by: size).map { $0..<min(rows, $0 + size) }
    }

    /// The weight of the first product that reads the MLP's input (``Backend/rmsNorm(_:weight:eps:feeding:)``).
    var inputWeight: Tensor {
        switch input {
        case .separate(let gate, _): return gate.weight
        case .fused(let gateUp): return gateUp.weight
        }
    }

    /// `silu(gate(x)) * up(x)`: what the down projection reads.
    private func activation(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        switch input {
        case .separate(let gate, let up):
            return try backend.siluMul(gate: try gate(x, backend), up: try up(x, backend))
        case .fused(let gateUp):
            return try backend.siluMul(gateUp: try gateUp(x, backend), feeding: down.weight)
        }
    }
}

/// The attention input projections: q, k and v as three products, or one fused `[q | k | v]` product
/// split (and rotated) by ``Backend/splitRope(_:heads:kvHeads:cos:sin:)``.
enum QKVProjection {
    case separate(query: Linear, key: Linear, value: Linear)
    case fused(Linear)

    /// The weight of the first product that reads the input (``Backend/rmsNorm(_:weight:eps:feeding:)``).
    var inputWeight: Tensor {
        switch self {
        case .separate(let query, _, _): return query.weight
        case .fused(let qkv): return qkv.weight
        }
    }

    /// Rotated query `[tokens, heads, d]`, rotated key and value `[tokens, kvHeads, d]`.
    func callAsFunction(
        _ x: Tensor, heads: Int, kvHeads: Int, headDim: Int, rotary: (cos: Tensor, sin: Tensor), backend: any Backend
    ) throws -> (query: Tensor, key: Tensor, value: Tensor) {
        let tokens = x.shape[0]
        switch self {
        case .separate(let query, let key, let value):
            let q = try query(x, backend).reshaped([tokens, heads, headDim])
            let k = try key(x, backend).reshaped([tokens, kvHeads, headDim])
            let v = try value(x, backend).reshaped([tokens, kvHeads, headDim])
            return (
                try backend.applyRope(q, cos: rotary.cos, sin: rotary.sin),
                try backend.applyRope(k, cos: rotary.cos, sin: rotary.sin), v
            )
        case .fused(let qkv):
            return try backend.splitRope(
                qkv(x, backend), heads: heads, kvHeads: kvHeads, cos: rotary.cos, sin: rotary.sin)
        }
    }

    /// Full (not causal) attention of the rotated query, key and value over the packed sequences of `cuSeqlens`
    /// (the vision tower's): `[tokens, heads, headDim]`. The fused product goes to
    /// ``Backend/splitRopeAttention(_:heads:kvHeads:cos:sin:cuSeqlens:scale:)``, so that a backend may split,
    /// rotate and attend in one kernel.
    func attention(
        _ x: Tensor, heads: Int, kvHeads: Int, headDim: Int, rotary: (cos: Tensor, sin: Tensor), cuSeqlens: [Int32],
        scale: Float, backend: any Backend
    ) throws -> Tensor {
        switch self {
        case .separate:
            let (q, k, v) = try self(
                x, heads: heads, kvHeads: kvHeads, headDim: headDim, rotary: rotary, backend: backend)
            return try backend.attention(query: q, key: k, value: v, cuSeqlens: cuSeqlens, causal: false, scale: scale)
        case .fused(let qkv):
            return try backend.splitRopeAttention(
                qkv(x, backend), heads: heads, kvHeads: kvHeads, cos: rotary.cos, sin: rotary.sin, cuSeqlens: cuSeqlens,
                scale: scale)
        }
    }
}
