/// The vision tower's settings (`vision_config`). Fields absent from the file take the defaults of
/// SPEC section 5, kept together in `VisionConfiguration.defaults`.
///
/// Note: transformers' own class default for `hidden_size` (and `out_hidden_size`) is 3584 and for
/// `tokens_per_second` 4; every released Qwen2.5-VL config states these fields explicitly, so the
/// defaults only matter for hand-written files. Change them here, in one place, if needed.
public struct VisionConfiguration: Codable, Sendable, Equatable {
    public var depth: Int
    public var hiddenSize: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var patchSize: Int
    public var temporalPatchSize: Int
    public var spatialMergeSize: Int
    public var windowSize: Int
    public var fullattBlockIndexes: [Int]
    public var outHiddenSize: Int
    public var inChannels: Int
    public var hiddenAct: String
    public var tokensPerSecond: Int

    /// The Qwen2.5-VL-7B vision tower (SPEC section 5); `outHiddenSize` 3584.
    public static let defaults = VisionConfiguration(
        depth: 32, hiddenSize: 1280, numHeads: 16, intermediateSize: 3420, patchSize: 14, temporalPatchSize: 2,
        spatialMergeSize: 2, windowSize: 112, fullattBlockIndexes: [7, 15, 23, 31], outHiddenSize: 3584,
        inChannels: 3, hiddenAct: "silu", tokensPerSecond: 2)

    enum CodingKeys: String, CodingKey {
        case depth
        case hiddenSize = "hidden_size"
        case numHeads = "num_heads"
        case intermediateSize = "intermediate_size"
        case patchSize = "patch_size"
        case temporalPatchSize = "temporal_patch_size"
        case spatialMergeSize = "spatial_merge_size"
        case windowSize = "window_size"
        case fullattBlockIndexes = "fullatt_block_indexes"
        case outHiddenSize = "out_hidden_size"
        case inChannels = "in_channels"
        case hiddenAct = "hidden_act"
        case tokensPerSecond = "tokens_per_second"
    }

    /// Older files spell the channel count `in_chans`.
    private enum AliasKeys: String, CodingKey { case inChans = "in_chans" }

    /// Creates a configuration with every field given.
    public init(
        depth: Int, hiddenSize: Int, numHeads: Int, intermediateSize: Int, patchSize: Int, temporalPatchSize: Int,
        spatialMergeSize: Int, windowSize: Int, fullattBlockIndexes: [Int], outHiddenSize: Int, inChannels: Int,
        hiddenAct: String, tokensPerSecond: Int
    ) {
        self.depth = depth
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.intermediateSize = intermediateSize
        self.patchSize = patchSize
        self.temporalPatchSize = temporalPatchSize
        self.spatialMergeSize = spatialMergeSize
        self.windowSize = windowSize
        self.fullattBlockIndexes = fullattBlockIndexes
        self.outHiddenSize = outHiddenSize
        self.inChannels = inChannels
        self.hiddenAct = hiddenAct
        self.tokensPerSecond = tokensPerSecond
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let aliases = try decoder.container(keyedBy: AliasKeys.self)
        let d = Self.defaults
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        numHeads = try c.decodeIfPresent(Int.self, forKey: .numHeads) ?? d.numHeads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        temporalPatchSize = try c.decodeIfPresent(Int.self, forKey: .temporalPatchSize) ?? d.temporalPatchSize
        spatialMergeSize = try c.decodeIfPresent(Int.self, forKey: .spatialMergeSize) ?? d.spatialMergeSize
        windowSize = try c.decodeIfPresent(Int.self, forKey: .windowSize) ?? d.windowSize
        fullattBlockIndexes = try c.decodeIfPresent([Int].self, forKey: .fullattBlockIndexes) ?? d.fullattBlockIndexes
        outHiddenSize = try c.decodeIfPresent(Int.self, forKey: .outHiddenSize) ?? d.outHiddenSize
        inChannels =
            try c.decodeIfPresent(Int.self, forKey: .inChannels)
            ?? aliases.decodeIfPresent(Int.self, forKey: .inChans) ?? d.inChannels
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? d.hiddenAct
        tokensPerSecond = try c.decodeIfPresent(Int.self, forKey: .tokensPerSecond) ?? d.tokensPerSecond
    }

    // MARK: Derived sizes

    /// Width of one attention head (80 for the released tower).
    public var headDim: Int { numHeads > 0 ? hiddenSize / numHeads : 0 }
    /// Values in one flattened patch: channels x temporal x patch x patch (1176).
    public var patchInputSize: Int { inChannels * temporalPatchSize * patchSize * patchSize }
    /// Width of the merger's input: `spatial_merge_size^2` patches concatenated (5120).
    public var mergerHiddenSize: Int { hiddenSize * spatialMergeSize * spatialMergeSize }

    /// Every inconsistency, as sentences; `textHiddenSize` is the language model width the merger feeds.
    func problems(textHiddenSize: Int) -> [String] {
        var problems: [String] = []
        for (name, value) in [
            ("depth", depth), ("hidden_size", hiddenSize), ("num_heads", numHeads),
            ("intermediate_size", intermediateSize), ("patch_size", patchSize),
            ("temporal_patch_size", temporalPatchSize), ("spatial_merge_size", spatialMergeSize),
            ("window_size", windowSize), ("out_hidden_size", outHiddenSize),
        ] where value <= 0 {
            problems.append("vision_config.\(name) is \(value); it must be positive")
        }
        guard problems.isEmpty else { return problems }
        if hiddenSize % numHeads != 0 {
            problems.append("vision_config.hidden_size \(hiddenSize) is not divisible by num_heads \(numHeads)")
        } else if headDim % 4 != 0 {
            problems.append("the vision head width \(headDim) is not a multiple of 4, as 2D rotary embeddings need")
        }
        if windowSize % (patchSize * spatialMergeSize) != 0 {
            problems.append(
                "vision_config.window_size \(windowSize) is not a multiple of patch_size x spatial_merge_size = \(patchSize * spatialMergeSize)"
            )
        }
        if let bad = fullattBlockIndexes.first(where: { $0 < 0 || $0 >= depth }) {
            problems.append("vision_config.fullatt_block_indexes holds \(bad), outside the \(depth) blocks")
        }
        if outHiddenSize != textHiddenSize {
            problems.append(
                "vision_config.out_hidden_size \(outHiddenSize) differs from the text hidden_size \(textHiddenSize)")
        }
        if inChannels != 3 {
            problems.append("vision_config.in_channels is \(inChannels); images are RGB, so it must be 3")
        }
        return problems
    }
}
