import TensorKit

/// The Qwen2 decoder with multimodal rotary positions (SPEC section 6).
enum Language {
    /// One decoder layer: causal self-attention with grouped KV heads, then the SwiGLU MLP, each behind
    /// an RMSNorm and a residual connection.
    struct Layer {
        let inputNorm, postAttentionNorm: Tensor
        let query, key, value, output: Linear
        let mlp: GatedMLP

        init(index: Int, weights: any WeightSource, backend: any Backend) throws {
            let prefix = "model.layers.\(index)."
            func load(_ name: String) throws -> Tensor { try weights.tensor(prefix + name, on: backend) }
            func linear(_ name: String, bias: Bool) throws -> Linear {
                Linear(weight: try load(name + ".weight"), bias: bias ? try load(name + ".bias") : nil)
            }
            inputNorm = try load("input_layernorm.weight")
            postAttentionNorm = try load("post_attention_layernorm.weight")
            query = try linear("self_attn.q_proj", bias: true)
            key = try linear("self_attn.k_proj", bias: true)
            value = try linear("self_attn.v_proj", bias: true)
            output = try linear("self_attn.o_proj", bias: false)
            mlp = GatedMLP(
                gate: try linear("mlp.gate_proj", bias: false), up: try linear("mlp.up_proj", bias: false),
                down: try linear("mlp.down_proj", bias: false))
        }

        func callAsFunction(
            _ x: Tensor, rotary: (cos: Tensor, sin: Tensor), cuSeqlens: [Int32], dims: ModelDimensions.Text,
            backend: any Backend
        ) throws -> Tensor {
            let tokens = x.shape[0]
            let normed = try backend.rmsNorm(x, weight: inputNorm, eps: dims.rmsNormEps)
            let q = try query(normed, backend).reshaped([tokens, dims.headCount, dims.headDim])
            let k = try key(normed, backend).reshaped([tokens, dims.kvHeadCount, dims.headDim])
            let v = try value(normed, backend).reshaped([tokens, dims.kvHeadCount, dims.headDim])
            let attended = try backend.attention(
                query: try backend.applyRope(q, cos: rotary.cos, sin: rotary.sin),
                key: try backend.applyRope(k, cos: rotary.cos, sin: rotary.sin),
                value: v, cuSeqlens: cuSeqlens, causal: true, scale: 1 / Float(dims.headDim).squareRoot())
            let afterAttention = try backend.add(x, try output(attended.reshaped([tokens, dims.hiddenSize]), backend))
            let normed2 = try backend.rmsNorm(afterAttention, weight: postAttentionNorm, eps: dims.rmsNormEps)
            return try backend.add(afterAttention, try mlp(normed2, backend))
        }
    }

    /// Embedding table, layers and final norm.
    struct Decoder {
        let dims: ModelDimensions.Text
        let embeddings: Tensor
        let layers: [Layer]
        let finalNorm: Tensor

        init(dims: ModelDimensions.Text, weights: any WeightSource, backend: any Backend) throws {
            self.dims = dims
            embeddings = try weights.embeddingTable("model.embed_tokens.weight", on: backend)
            layers = try (0..<dims.layerCount).map { try Layer(index: $0, weights: weights, backend: backend) }
            finalNorm = try weights.tensor("model.norm.weight", on: backend)
        }
    }
}
