import TensorKit

/// The Qwen2 decoder with multimodal rotary positions (SPEC section 6).
enum Language {
    /// One decoder layer: causal self-attention with grouped KV heads, then the SwiGLU MLP, each behind
    /// an RMSNorm and a residual connection.
    struct Layer {
        let inputNorm, postAttentionNorm: Tensor
        let qkv: QKVProjection
        let output: Linear
        let mlp: GatedMLP

        init(index: Int, dims: ModelDimensions.Text, weights: any WeightSource, backend: any Backend) throws {
            func name(_ tensor: DecoderTensor, _ kind: ParameterKind = .weight) -> WeightName {
                .decoder(layer: index, tensor, kind)
            }
            func linear(_ tensor: DecoderTensor, bias: Bool) throws -> Linear {
                Linear(
                    weight: try weights.linearWeight(name(tensor), on: backend),
                    bias: bias ? try weights.tensor(name(tensor, .bias), on: backend) : nil)
            }
            inputNorm = try weights.tensor(name(.inputLayerNorm), on: backend)
            postAttentionNorm = try weights.tensor(name(.postAttentionLayerNorm), on: backend)
            if backend.prefersFusedWeights {
                let parts: [DecoderTensor] = [.qProj, .kProj, .vProj]
                qkv = .fused(
                    Linear(
                        weight: try weights.linearWeight(
                            parts.map { name($0) }, rowsEach: nil, columns: nil, on: backend),
                        bias: try weights.stackedTensor(
                            parts.map { name($0, .bias) }, rowsEach: nil, columns: nil, on: backend)))
            } else {
                qkv = .separate(
                    query: try linear(.qProj, bias: true), key: try linear(.kProj, bias: true),
                    value: try linear(.vProj, bias: true))
            }
            output = try linear(.oProj, bias: false)
            mlp = try GatedMLP(
                bias: false, intermediateSize: dims.intermediateSize, weights: weights, backend: backend
            ) { part, kind in
                .decoder(layer: index, part.decoderTensor, kind)
            }
        }

        /// - Parameters:
        ///   - normed: `inputNorm(x)`, made by the previous layer (or the caller for the first one).
        ///   - nextNorm: the weight of the norm that reads this layer's output (the next layer's input norm,
        ///     or the final norm), applied by this layer.
        ///   - nextConsumer: the weight of the product that reads that norm (the next layer's q/k/v), if any.
        ///   - keepRows: when given, only these rows go on past the attention (the last layer needs only
        ///     each sequence's last token): the results have `keepRows.count` rows.
        /// - Returns: the layer's output and that norm of it.
        func callAsFunction(
            _ x: Tensor, normed: Tensor, nextNorm: Tensor, nextConsumer: Tensor?, rotary: (cos: Tensor, sin: Tensor),
            cuSeqlens: [Int32],
            prefixes: [Range<Int32>], dims: ModelDimensions.Text, backend: any Backend, mlpRowChunk: Int,
            keepRows: [Int32]? = nil, cached: CachedPrefixAttention? = nil, layerIndex: Int = 0,
            captured: inout [[(key: Tensor, value: Tensor)]]
        ) throws -> (x: Tensor, normed: Tensor) {
            var (q, k, v) = try qkv(
                normed, heads: dims.headCount, kvHeads: dims.kvHeadCount, headDim: dims.headDim, rotary: rotary,
                backend: backend)
            if let cached {
                let rows = try cached.capture(key: k, value: v, backend: backend)
                for (index, kv) in rows.enumerated() { captured[index].append(kv) }
                if cached.hasCachedRows {
                    (q, k, v) = try cached.assemble(query: q, key: k, value: v, layer: layerIndex, backend: backend)
                }
            }
            var attended = try backend.attention(
                query: q, key: k, value: v, cuSeqlens: cuSeqlens, prefixes: prefixes, causal: true,
                scale: 1 / Float(dims.headDim).squareRoot())
            if let cached, cached.hasCachedRows { attended = try cached.computedRows(of: attended, backend: backend) }
            attended = try attended.reshaped([x.shape[0], dims.hiddenSize])
            var residual = x
            if let keepRows {
                attended = try backend.gatherRows(attended, indices: keepRows)
                residual = try backend.gatherRows(x, indices: keepRows)
            }
            let afterAttention = try output(attended, adding: residual, backend)
            let normed2 = try backend.rmsNorm(
                afterAttention, weight: postAttentionNorm, eps: dims.rmsNormEps, feeding: mlp.inputWeight)
            let next = try mlp(normed2, adding: afterAttention, backend, rowChunk: mlpRowChunk)
            return (next, try backend.rmsNorm(next, weight: nextNorm, eps: dims.rmsNormEps, feeding: nextConsumer))
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
            embeddings = try weights.embeddingTable(.tokenEmbedding, on: backend)
            layers = try (0..<dims.layerCount).map {
                try Layer(index: $0, dims: dims, weights: weights, backend: backend)
            }
            finalNorm = try weights.tensor(.finalNorm, on: backend)
        }
    }
}
