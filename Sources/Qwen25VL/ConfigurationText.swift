/// RoPE settings as written in `rope_scaling` (older files) or `rope_parameters` (newest files).
public struct RopeSettings: Codable, Sendable, Equatable {
    /// `"mrope"` / `"default"` (informative).
    public var type: String?
    /// `"default"` (informative).
    public var ropeType: String?
    /// Rotary half-dimensions given to the temporal, height and width position components.
    public var mropeSection: [Int]?
    /// Base frequency (only in `rope_parameters`).
    public var ropeTheta: Double?

    enum CodingKeys: String, CodingKey {
        case type
        case ropeType = "rope_type"
        case mropeSection = "mrope_section"
        case ropeTheta = "rope_theta"
    }

    /// Creates settings.
    public init(type: String? = nil, ropeType: String? = nil, mropeSection: [Int]? = nil, ropeTheta: Double? = nil) {
        self.type = type
        self.ropeType = ropeType
        self.mropeSection = mropeSection
        self.ropeTheta = ropeTheta
    }
}

/// The language model's settings: the text fields of `config.json` (top level in older files,
/// under `text_config` in newer ones).
public struct TextConfiguration: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int?
    public var intermediateSize: Int
    public var vocabSize: Int
    public var rmsNormEps: Double?
    public var ropeTheta: Double?
    public var ropeScaling: RopeSettings?
    public var ropeParameters: RopeSettings?
    public var maxPositionEmbeddings: Int?
    public var hiddenAct: String?
    public var tieWordEmbeddings: Bool?
    public var torchDtype: String?
    public var dtype: String?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size"
        case numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads"
        case intermediateSize = "intermediate_size"
        case vocabSize = "vocab_size"
        case rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters"
        case maxPositionEmbeddings = "max_position_embeddings"
        case hiddenAct = "hidden_act"
        case tieWordEmbeddings = "tie_word_embeddings"
        case torchDtype = "torch_dtype"
        case dtype
    }

    /// Creates a configuration from the required sizes; optional fields stay absent (defaults apply).
    public init(
        hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, numKeyValueHeads: Int?,
        intermediateSize: Int, vocabSize: Int, mropeSection: [Int]?, ropeTheta: Double? = nil, rmsNormEps: Double? = nil
    ) {
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.intermediateSize = intermediateSize
        self.vocabSize = vocabSize
        self.ropeScaling = mropeSection.map { RopeSettings(type: "mrope", mropeSection: $0) }
        self.ropeTheta = ropeTheta
        self.rmsNormEps = rmsNormEps
    }

    // MARK: Values with their defaults applied

    /// Key/value heads (grouped-query attention); all heads when the file does not say.
    public var keyValueHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    /// Width of one attention head.
    public var headDim: Int { numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0 }
    /// RMSNorm epsilon; 1e-6 (every Qwen2.5-VL release) when absent.
    public var rmsNormEpsilon: Double { rmsNormEps ?? 1e-6 }
    /// RoPE base; `rope_parameters.rope_theta`, then `rope_theta`, then 1e6.
    public var ropeBase: Double { ropeParameters?.ropeTheta ?? ropeTheta ?? 1_000_000 }
    /// M-RoPE sections (t, h, w) from `rope_parameters` or `rope_scaling`; nil when neither has one.
    public var mropeSections: [Int]? { ropeParameters?.mropeSection ?? ropeScaling?.mropeSection }
    /// Weight dtype named by the file (`dtype`, or the older `torch_dtype`).
    public var declaredDType: String? { dtype ?? torchDtype }

    /// Every inconsistency, as sentences.
    func problems() -> [String] {
        var problems: [String] = []
        for (name, value) in [
            ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
            ("num_attention_heads", numAttentionHeads), ("num_key_value_heads", keyValueHeads),
            ("intermediate_size", intermediateSize), ("vocab_size", vocabSize),
        ] where value <= 0 {
            problems.append("\(name) is \(value); it must be positive")
        }
        guard problems.isEmpty else { return problems }
        if hiddenSize % numAttentionHeads != 0 {
            problems.append("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        } else if headDim % 2 != 0 {
            problems.append("the attention head width \(headDim) is odd; rotary embeddings need an even width")
        }
        if numAttentionHeads % keyValueHeads != 0 {
            problems.append(
                "num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(keyValueHeads)")
        }
        if let sections = mropeSections {
            if sections.count != 3 || sections.contains(where: { $0 <= 0 }) {
                problems.append("mrope_section \(sections) must hold three positive numbers (t, h, w)")
            } else if sections.reduce(0, +) * 2 != headDim {
                problems.append(
                    "mrope_section \(sections) sums to \(sections.reduce(0, +)); it must sum to head_dim/2 = \(headDim / 2)"
                )
            }
        } else {
            problems.append(
                "no mrope_section in rope_scaling or rope_parameters; Qwen2.5-VL needs multimodal RoPE sections")
        }
        if rmsNormEpsilon <= 0 { problems.append("rms_norm_eps is \(rmsNormEpsilon); it must be positive") }
        if ropeBase <= 0 { problems.append("rope_theta is \(ropeBase); it must be positive") }
        return problems
    }
}
