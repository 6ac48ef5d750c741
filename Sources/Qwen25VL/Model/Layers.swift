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

    /// 2048 decoder rows (a `[2048, 37888]` gate/up product, 155 MB in bf16 for the 7B) and 8192 vision rows.
    public static let standard = MLPRowChunks(text: 2048, vision: 8192)

    /// With 8-bit weights (half the weight memory left for activations): 4096 decoder rows, where the FP8
    /// products run closer to their peak than at 2048.
    public static let eightBit = MLPRowChunks(text: 4096, vision: 8192)
}

/// `x W^T + b`, the weight kept in the checkpoint's element type.
struct Linear {
    let weight: Tensor
    let bias: Tensor?

    func callAsFunction(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        try backend.linear(x, weight: weight, bias: bias)
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

    /// Loads `<prefix>gate_proj`, `up_proj` and `down_proj` (with biases when `bias`), fused when the
    /// backend prefers it.
    init(prefix: String, bias: Bool, intermediateSize: Int, weights: any WeightSource, backend: any Backend) throws {
        func load(_ name: String) throws -> Tensor { try weights.tensor(prefix + name, on: backend) }
        func linear(_ name: String) throws -> Linear {
            Linear(
                weight: try weights.linearWeight(prefix + name + ".weight", on: backend),
                bias: bias ? try load(name + ".bias") : nil)
        }
        guard backend.prefersFusedWeights else {
            input = .separate(gate: try linear("gate_proj"), up: try linear("up_proj"))
            down = try linear("down_proj")
            return
        }
        let padded = (intermediateSize + 15) / 16 * 16
        let halves = [prefix + "gate_proj", prefix + "up_proj"]
        input = .fused(
            Linear(
                weight: try weights.linearWeight(halves.map { $0 + ".weight" }, rowsEach: padded, columns: nil, on: backend),
                bias: bias
                    ? try weights.stackedTensor(halves.map { $0 + ".bias" }, rowsEach: padded, columns: nil, on: backend)
                    : nil))
        down = Linear(
            weight: try weights.linearWeight([prefix + "down_proj.weight"], rowsEach: nil, columns: padded, on: backend),
            bias: bias ? try load("down_proj.bias") : nil)
    }

    /// The MLP of `x`'s rows, at most `rowChunk` rows at a time: the `[rows, 2 x intermediate]` gate/up
    /// product is the largest activation of a layer, so chunking bounds a batch's working memory. Row-wise
    /// ops: any chunk size gives the same results (to the rounding of a BLAS that blocks products of
    /// different row counts differently).
    ///
    /// - Returns: the output rows as consecutive chunks, for ``Backend/addRMSNorm(_:rowChunks:weight:eps:)``
    ///   (the residual connection after the MLP), which reads them where they are instead of joining them.
    func callAsFunction(_ x: Tensor, _ backend: any Backend, rowChunk: Int) throws -> [Tensor] {
        let rows = x.shape[0]
        guard rowChunk > 0, rows > rowChunk else { return [try whole(x, backend)] }
        // Chunks of equal size (no small remainder chunk that would read all the weights for a few rows).
        let count = (rows + rowChunk - 1) / rowChunk
        let size = (rows + count - 1) / count
        return try stride(from: 0, to: rows, by: size).map {
            try whole(try x.rows($0..<min(rows, $0 + size)), backend)
        }
    }

    private func whole(_ x: Tensor, _ backend: any Backend) throws -> Tensor {
        switch input {
        case .separate(let gate, let up):
            return try down(try backend.siluMul(gate: try gate(x, backend), up: try up(x, backend)), backend)
        case .fused(let gateUp):
            return try down(try backend.siluMul(gateUp: try gateUp(x, backend), feeding: down.weight), backend)
        }
    }
}

/// The attention input projections: q, k and v as three products, or one fused `[q | k | v]` product
/// split (and rotated) by ``Backend/splitRope(_:heads:kvHeads:cos:sin:)``.
enum QKVProjection {
    case separate(query: Linear, key: Linear, value: Linear)
    case fused(Linear)

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
            return try backend.splitRope(qkv(x, backend), heads: heads, kvHeads: kvHeads, cos: rotary.cos, sin: rotary.sin)
        }
    }
}
