/// The sizes the forward pass needs, read once from the configuration.
///
/// Kept separate from the Codable configuration so that the model code names exactly what it uses.
public struct ModelDimensions: Sendable, Equatable {
    /// Decoder sizes.
    public struct Text: Sendable, Equatable {
        public var hiddenSize: Int
        public var layerCount: Int
        public var headCount: Int
        public var kvHeadCount: Int
        public var intermediateSize: Int
        public var rmsNormEps: Float
        public var ropeTheta: Double
        /// M-RoPE sections over half the head dimension, for (t, h, w): [16, 24, 24] for Qwen2.5-VL.
        public var mropeSection: [Int]
        public var headDim: Int { hiddenSize / headCount }

        public init(
            hiddenSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int, intermediateSize: Int,
            rmsNormEps: Float, ropeTheta: Double, mropeSection: [Int]
        ) {
            self.hiddenSize = hiddenSize
            self.layerCount = layerCount
            self.headCount = headCount
            self.kvHeadCount = kvHeadCount
            self.intermediateSize = intermediateSize
            self.rmsNormEps = rmsNormEps
            self.ropeTheta = ropeTheta
            self.mropeSection = mropeSection
        }
    }

    /// Vision tower sizes.
    public struct Vision: Sendable, Equatable {
        public var depth: Int
        public var hiddenSize: Int
        public var headCount: Int
        public var intermediateSize: Int
        public var outHiddenSize: Int
        public var patchSize: Int
        public var temporalPatchSize: Int
        public var spatialMergeSize: Int
        public var windowSize: Int
        public var fullAttentionBlocks: Set<Int>
        public var inChannels: Int
        public var rmsNormEps: Float = 1e-6
        public var ropeTheta: Double = 10_000
        public var headDim: Int { hiddenSize / headCount }
        /// Values per patch row: channels x temporal x patch x patch (1176 for Qwen2.5-VL).
        public var patchInputSize: Int { inChannels * temporalPatchSize * patchSize * patchSize }
        /// Patches merged into one token (4).
        public var mergeUnit: Int { spatialMergeSize * spatialMergeSize }

        public init(
            depth: Int, hiddenSize: Int, headCount: Int, intermediateSize: Int, outHiddenSize: Int,
            patchSize: Int, temporalPatchSize: Int, spatialMergeSize: Int, windowSize: Int,
            fullAttentionBlocks: Set<Int>, inChannels: Int
        ) {
            self.depth = depth
            self.hiddenSize = hiddenSize
            self.headCount = headCount
            self.intermediateSize = intermediateSize
            self.outHiddenSize = outHiddenSize
            self.patchSize = patchSize
            self.temporalPatchSize = temporalPatchSize
            self.spatialMergeSize = spatialMergeSize
            self.windowSize = windowSize
            self.fullAttentionBlocks = fullAttentionBlocks
            self.inChannels = inChannels
        }
    }

    public var text: Text
    public var vision: Vision
    /// Whether the output head shares the embedding table.
    public var tiedEmbeddings: Bool

    public init(text: Text, vision: Vision, tiedEmbeddings: Bool) {
        self.text = text
        self.vision = vision
        self.tiedEmbeddings = tiedEmbeddings
    }
}

extension ModelDimensions.Text {
    /// Matrix-product FLOPs of one decoder token: 2 x the decoder's matrix parameters (q, k, v, o, gate,
    /// up, down over every layer).
    public var matmulFlopsPerToken: Double {
        let h = Double(hiddenSize), kv = Double(kvHeadCount * headDim), i = Double(intermediateSize)
        return 2 * Double(layerCount) * (2 * h * h + 2 * h * kv + 3 * h * i)
    }
}
