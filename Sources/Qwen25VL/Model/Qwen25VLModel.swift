import TensorKit

/// Qwen2.5-VL as a relevance scorer: vision tower, decoder, and the yes/no score head.
///
/// Holds weights only, never per-request state, so one instance serves concurrent requests (each call
/// brings its own batch). Only the two rows of the output head that the score needs are kept, as their
/// difference: `z = h . (W[yes] - W[no])` (SPEC section 2).
public final class Qwen25VLModel: @unchecked Sendable {
    public let dimensions: ModelDimensions
    public let backend: any Backend
    let vision: Vision.Tower
    let decoder: Language.Decoder
    /// `[1, hidden]`: the yes row minus the no row of the output head.
    let scoreDirection: Tensor
    /// Most rows each MLP works on at once.
    public let mlpRowChunks: MLPRowChunks

    /// Builds the model from `weights` on `backend`.
    ///
    /// - Parameters:
    ///   - yesTokenID, noTokenID: rows of the output head whose difference is the score (9693 and 2152 for
    ///     Qwen2 vocabularies).
    ///   - mlpRowChunks: most rows each MLP works on at once (bounds activation memory; same results).
    public init(
        dimensions: ModelDimensions, weights: any WeightSource, backend: any Backend, yesTokenID: Int32,
        noTokenID: Int32, mlpRowChunks: MLPRowChunks = .standard
    ) throws {
        self.dimensions = dimensions
        self.mlpRowChunks = mlpRowChunks
        self.backend = backend
        vision = try Vision.Tower(dims: dimensions.vision, weights: weights, backend: backend)
        decoder = try Language.Decoder(dims: dimensions.text, weights: weights, backend: backend)
        let head: WeightName = dimensions.tiedEmbeddings ? .tokenEmbedding : .lmHead
        let rows = try weights.hostRows(head, rows: [Int(yesTokenID), Int(noTokenID)])
        let direction = zip(rows[0], rows[1]).map { $0 - $1 }
        scoreDirection = try backend.upload(direction, shape: [1, dimensions.text.hiddenSize])
    }

    private init(sharing model: Qwen25VLModel, mlpRowChunks: MLPRowChunks) {
        dimensions = model.dimensions
        backend = model.backend
        vision = model.vision
        decoder = model.decoder
        scoreDirection = model.scoreDirection
        self.mlpRowChunks = mlpRowChunks
    }

    /// This model (the same weights, nothing copied) with MLPs that work on at most `mlpRowChunks` rows at
    /// once.
    public func withMLPRowChunks(_ mlpRowChunks: MLPRowChunks) -> Qwen25VLModel {
        mlpRowChunks == self.mlpRowChunks ? self : Qwen25VLModel(sharing: self, mlpRowChunks: mlpRowChunks)
    }

    /// Whether the linear layers hold 8-bit (E4M3) weights (`--dtype fp8`).
    public var hasEightBitLinearWeights: Bool {
        (decoder.layers.first?.output.weight.dtype ?? vision.merger.first.weight.dtype) == .f8e4m3
    }

    /// Image embeddings in processor order: `patches x 1176` pixel rows of all `grids`, concatenated ->
    /// `[patches / 4, outHidden]`, each image's rows following the previous image's.
    public func imageEmbeddings(pixelValues: [Float], grids: [VisionGrid]) throws -> Tensor {
        let rows = pixelValues.count / dimensions.vision.patchInputSize
        let pixels = try backend.upload(pixelValues, shape: [rows, dimensions.vision.patchInputSize])
        return try vision(pixels, grids: grids, backend: backend, mlpRowChunk: mlpRowChunks.vision)
    }

    /// ``imageEmbeddings(pixelValues:grids:)`` of resized images, cut into patch rows on the backend's device
    /// (``Backend/patchify(_:layout:)``): only their bytes cross over.
    ///
    /// - Throws: ``ModelInputError/patchLayoutMismatch(_:)`` when `layout` differs from the vision tower's
    ///   patch, merge and temporal sizes.
    public func imageEmbeddings(images: [PatchifySource], layout: PatchifyLayout) throws -> Tensor {
        let v = dimensions.vision
        guard layout.patchSize == v.patchSize, layout.mergeSize == v.spatialMergeSize,
            layout.temporalPatchSize == v.temporalPatchSize, PatchifyLayout.channels == v.inChannels
        else {
            throw ModelInputError.patchLayoutMismatch(
                "patches of \(layout.patchSize) pixels, \(layout.mergeSize)x\(layout.mergeSize) merge blocks and "
                    + "\(layout.temporalPatchSize) frames of \(PatchifyLayout.channels) channels, but the vision tower "
                    + "takes \(v.patchSize), \(v.spatialMergeSize), \(v.temporalPatchSize) and \(v.inChannels)")
        }
        let pixels = try backend.patchify(images, layout: layout)
        let grids = images.map { VisionGrid(t: 1, h: $0.gridHeight, w: $0.gridWidth) }
        return try vision(pixels, grids: grids, backend: backend, mlpRowChunk: mlpRowChunks.vision)
    }

    /// Runs the batch and returns the logit z and last hidden state of each scored sequence (every
    /// sequence but the shared prefixes, see ``PackedBatch/appendPrefix(tokenIDs:positions:)``).
    /// `prefixCopies` holds device copies of cached prefixes between passes (``DevicePrefixCopies``).
    public func forward(_ batch: PackedBatch, prefixCopies: DevicePrefixCopies? = nil) throws -> ForwardOutput {
        let dims = dimensions.text
        var x = try backend.embedding(decoder.embeddings, ids: batch.tokenIDs)
        let cached = try CachedPrefixAttention(batch: batch, dims: dims, backend: backend, copies: prefixCopies)
        // Row numbers are on the batch's axis, cached prefixes included; x holds the computed rows only.
        let computed: ([Int32]) -> [Int32] = { rows in
            batch.cachedPrefixes.isEmpty ? rows : rows.map { batch.computedRow($0) }
        }
        for insert in batch.images {
            try backend.scatterRows(insert.embeddings, into: x, at: computed(insert.rows))
        }
        let rotary = try backend.rotaryTables(
            RotaryTables.multimodalPlan(
                temporal: batch.temporal, height: batch.height, width: batch.width,
                headDim: dims.headDim, theta: dims.ropeTheta, mropeSection: dims.mropeSection))
        // The score reads only each scored sequence's last token: the last layer's output projection and
        // MLP run on those rows alone (row-wise ops, so this changes nothing else).
        // Each layer also applies the norm that reads its output (the next layer's input norm, the final
        // norm after the last layer).
        let layers = decoder.layers
        var normed: Tensor
        let scoredRows = computed(batch.scoredRows)
        var captured = [[(key: Tensor, value: Tensor)]](repeating: [], count: cached?.captures.count ?? 0)
        if layers.isEmpty {
            x = try backend.gatherRows(x, indices: scoredRows)
            normed = try backend.rmsNorm(x, weight: decoder.finalNorm, eps: dims.rmsNormEps)
        } else {
            normed = try backend.rmsNorm(
                x, weight: layers[0].inputNorm, eps: dims.rmsNormEps, feeding: layers[0].qkv.inputWeight)
        }
        for (index, layer) in layers.enumerated() {
            let isLast = index == layers.count - 1
            (x, normed) = try layer(
                x, normed: normed, nextNorm: isLast ? decoder.finalNorm : layers[index + 1].inputNorm,
                nextConsumer: isLast ? nil : layers[index + 1].qkv.inputWeight, rotary: rotary,
                cuSeqlens: batch.cuSeqlens, prefixes: batch.prefixes, dims: dims, backend: backend,
                mlpRowChunk: mlpRowChunks.text, keepRows: isLast ? scoredRows : nil, cached: cached, layerIndex: index,
                captured: &captured)
        }
        let z = try backend.linear(normed, weight: scoreDirection, bias: nil)
        let prefixes = try captured.map { layers -> PrefixKV in
            let parts = layers.flatMap { [$0.key, $0.value] }
            let rows = layers.first?.key.shape[0] ?? 0
            let all = try backend.concatenateRows(parts)
            let kv = PrefixKV(rows: rows, layers: layers.count, values: try backend.downloadRows(all))
            prefixCopies?.keep(all, for: kv)
            return kv
        }
        return ForwardOutput(
            logits: try backend.download(z), lastHidden: try backend.download(normed), capturedPrefixes: prefixes)
    }
}
