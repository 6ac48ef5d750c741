import Foundation
import TensorKit

/// The Qwen2.5-VL vision transformer: patch embedding, windowed and full attention blocks with 2D
/// rotary positions, and the 2x2 patch merger (SPEC section 5).
enum Vision {
    /// One transformer block: `x += proj(attn(norm1(x)))`, then `x += mlp(norm2(x))`.
    struct Block {
        let norm1, norm2: Tensor
        let qkv: QKVProjection
        let projection: Linear
        let mlp: GatedMLP

        init(index: Int, dims: ModelDimensions.Vision, weights: any WeightSource, backend: any Backend) throws {
            func name(_ tensor: VisionBlockTensor, _ kind: ParameterKind = .weight) -> WeightName {
                .visionBlock(block: index, tensor, kind)
            }
            norm1 = try weights.tensor(name(.norm1), on: backend)
            norm2 = try weights.tensor(name(.norm2), on: backend)
            let qkvWeight = try weights.linearWeight(name(.qkv), on: backend)
            let qkvBias = try weights.tensor(name(.qkv, .bias), on: backend)
            if backend.prefersFusedWeights {
                qkv = .fused(Linear(weight: qkvWeight, bias: qkvBias))
            } else {
                let width = dims.hiddenSize
                func part(_ k: Int) throws -> Linear {
                    let rows = (k * width)..<((k + 1) * width)
                    return Linear(weight: try qkvWeight.rows(rows), bias: try qkvBias.rows(rows))
                }
                qkv = .separate(query: try part(0), key: try part(1), value: try part(2))
            }
            projection = Linear(
                weight: try weights.linearWeight(name(.proj), on: backend),
                bias: try weights.tensor(name(.proj, .bias), on: backend))
            mlp = try GatedMLP(
                bias: true, intermediateSize: dims.intermediateSize, weights: weights, backend: backend
            ) { part, kind in
                .visionBlock(block: index, part.visionTensor, kind)
            }
        }

        /// - Parameters:
        ///   - normed: `norm1(x)`, made by the previous block (or the tower for the first one).
        ///   - nextNorm: the weight of the norm that reads this block's output (the next block's `norm1`,
        ///     or the merger's), applied by this block.
        ///   - nextConsumer: the weight of the product that reads that norm (the next block's q/k/v), if any.
        /// - Returns: the block's output and that norm of it.
        func callAsFunction(
            _ x: Tensor, normed: Tensor, nextNorm: Tensor, nextConsumer: Tensor?, rotary: (cos: Tensor, sin: Tensor),
            cuSeqlens: [Int32],
            dims: ModelDimensions.Vision, backend: any Backend, mlpRowChunk: Int
        ) throws -> (x: Tensor, normed: Tensor) {
            let tokens = x.shape[0]
            let attended = try qkv.attention(
                normed, heads: dims.headCount, kvHeads: dims.headCount, headDim: dims.headDim, rotary: rotary,
                cuSeqlens: cuSeqlens, scale: 1 / Float(dims.headDim).squareRoot(), backend: backend)
            let afterAttention = try projection(attended.reshaped([tokens, dims.hiddenSize]), adding: x, backend)
            let normed2 = try backend.rmsNorm(
                afterAttention, weight: norm2, eps: dims.rmsNormEps, feeding: mlp.inputWeight)
            let next = try mlp(normed2, adding: afterAttention, backend, rowChunk: mlpRowChunk)
            return (next, try backend.rmsNorm(next, weight: nextNorm, eps: dims.rmsNormEps, feeding: nextConsumer))
        }
    }

    /// RMSNorm per patch, four patches of a merge block concatenated, Linear -> GELU -> Linear.
    struct Merger {
        let norm: Tensor
        let first, second: Linear

        init(weights: any WeightSource, backend: any Backend) throws {
            norm = try weights.tensor(.merger(.norm, .weight), on: backend)
            first = Linear(
                weight: try weights.linearWeight(.merger(.fc1, .weight), on: backend),
                bias: try weights.tensor(.merger(.fc1, .bias), on: backend))
            second = Linear(
                weight: try weights.linearWeight(.merger(.fc2, .weight), on: backend),
                bias: try weights.tensor(.merger(.fc2, .bias), on: backend))
        }

        /// - Parameter normed: `ln_q(x)` (the last block applies it to its output).
        func callAsFunction(normed: Tensor, dims: ModelDimensions.Vision, backend: any Backend) throws -> Tensor {
            let grouped = try normed.reshaped([normed.shape[0] / dims.mergeUnit, dims.hiddenSize * dims.mergeUnit])
            return try second(try backend.gelu(try first(grouped, backend)), backend)
        }
    }

    /// The whole tower. Holds weights only; every call brings its own images.
    struct Tower {
        let dims: ModelDimensions.Vision
        let patchEmbedding: Tensor
        let blocks: [Block]
        let merger: Merger

        init(dims: ModelDimensions.Vision, weights: any WeightSource, backend: any Backend) throws {
            self.dims = dims
            // Conv3d(3 -> hidden, kernel (2, 14, 14), stride = kernel, no bias) over one patch row is a linear
            // map with the kernel flattened in [channel][frame][row][col] order, the order of the patch rows.
            let kernel = try weights.tensor(.patchEmbed, on: backend)
            patchEmbedding = try kernel.reshaped([dims.hiddenSize, dims.patchInputSize])
            blocks = try (0..<dims.depth).map { try Block(index: $0, dims: dims, weights: weights, backend: backend) }
            merger = try Merger(weights: weights, backend: backend)
        }

        /// Image embeddings for the patches of `grids` (rows concatenated in processor order):
        /// `[patches, 1176]` -> `[patches / 4, outHidden]`, in processor (not window) order.
        func callAsFunction(_ pixels: Tensor, grids: [VisionGrid], backend: any Backend, mlpRowChunk: Int) throws
            -> Tensor
        {
            let layout = try visionWindowLayout(
                grids: grids, windowSize: dims.windowSize, patchSize: dims.patchSize,
                spatialMergeSize: dims.spatialMergeSize)
            let unit = Int32(dims.mergeUnit)
            let patchOrder = layout.windowIndex.flatMap { token in (0..<unit).map { token * unit + $0 } }

            let positions = try visionPatchPositions(grids: grids, spatialMergeSize: dims.spatialMergeSize)
            let rotary = try backend.rotaryTables(
                RotaryTables.visionPlan(
                    rows: patchOrder.map { positions.rows[Int($0)] }, cols: patchOrder.map { positions.cols[Int($0)] },
                    headDim: dims.headDim, theta: dims.ropeTheta))

            let embedded = try backend.linear(pixels, weight: patchEmbedding, bias: nil)
            var x = try backend.gatherRows(embedded, indices: patchOrder)
            // Each block also applies the norm that reads its output.
            var normed = try backend.rmsNorm(
                x, weight: blocks.first?.norm1 ?? merger.norm, eps: dims.rmsNormEps,
                feeding: blocks.first?.qkv.inputWeight)
            for (index, block) in blocks.enumerated() {
                let full = dims.fullAttentionBlocks.contains(index)
                let nextNorm = index + 1 < blocks.count ? blocks[index + 1].norm1 : merger.norm
                (x, normed) = try block(
                    x, normed: normed, nextNorm: nextNorm,
                    nextConsumer: index + 1 < blocks.count ? blocks[index + 1].qkv.inputWeight : nil, rotary: rotary,
                    cuSeqlens: full ? layout.cuSeqlens : layout.cuWindowSeqlens, dims: dims, backend: backend,
                    mlpRowChunk: mlpRowChunk)
            }
            let merged = try merger(normed: normed, dims: dims, backend: backend)
            return try backend.gatherRows(merged, indices: layout.reverseIndex)
        }
    }
}
