/// Whether a tensor is a layer's weight or its bias.
public enum ParameterKind: String, Sendable, Hashable, CaseIterable {
    case weight, bias
}

/// The tensors of one decoder layer, named by their module path inside the layer.
public enum DecoderTensor: String, Sendable, Hashable, CaseIterable {
    case qProj = "self_attn.q_proj"
    case kProj = "self_attn.k_proj"
    case vProj = "self_attn.v_proj"
    case oProj = "self_attn.o_proj"
    case gateProj = "mlp.gate_proj"
    case upProj = "mlp.up_proj"
    case downProj = "mlp.down_proj"
    case inputLayerNorm = "input_layernorm"
    case postAttentionLayerNorm = "post_attention_layernorm"
}

/// The tensors of one vision block.
public enum VisionBlockTensor: String, Sendable, Hashable, CaseIterable {
    case norm1
    case norm2
    case qkv = "attn.qkv"
    case proj = "attn.proj"
    case gateProj = "mlp.gate_proj"
    case upProj = "mlp.up_proj"
    case downProj = "mlp.down_proj"
}

/// The patch merger's tensors: RMSNorm, then Linear -> GELU -> Linear.
public enum MergerTensor: String, Sendable, Hashable, CaseIterable {
    case norm = "ln_q"
    case fc1 = "mlp.0"
    case fc2 = "mlp.2"
}

/// Which part of the model a tensor belongs to; each part has its own prefix per layout.
public enum WeightComponent: Sendable, Hashable {
    case language, vision, head
}

/// The canonical name of a model tensor, independent of how a checkpoint spells it.
///
/// The model asks for e.g. `.decoder(layer: 3, .qProj, .weight)`; `WeightCatalog` turns it into the
/// stored name. The string form (`canonical`) is the legacy spelling, e.g.
/// `model.layers.3.self_attn.q_proj.weight` or `visual.blocks.0.attn.qkv.bias`.
public enum WeightName: Sendable, Hashable, CustomStringConvertible {
    case tokenEmbedding
    case decoder(layer: Int, DecoderTensor, ParameterKind)
    case finalNorm
    case lmHead
    case patchEmbed
    case visionBlock(block: Int, VisionBlockTensor, ParameterKind)
    case merger(MergerTensor, ParameterKind)

    /// The part of the model this tensor belongs to.
    public var component: WeightComponent {
        switch self {
        case .tokenEmbedding, .decoder, .finalNorm: .language
        case .lmHead: .head
        case .patchEmbed, .visionBlock, .merger: .vision
        }
    }

    /// The path below the component's prefix (`layers.3.self_attn.q_proj.weight`).
    public var relativePath: String {
        switch self {
        case .tokenEmbedding: "embed_tokens.weight"
        case let .decoder(layer, tensor, kind): "layers.\(layer).\(tensor.rawValue).\(kind.rawValue)"
        case .finalNorm: "norm.weight"
        case .lmHead: "lm_head.weight"
        case .patchEmbed: "patch_embed.proj.weight"
        case let .visionBlock(block, tensor, kind): "blocks.\(block).\(tensor.rawValue).\(kind.rawValue)"
        case let .merger(tensor, kind): "merger.\(tensor.rawValue).\(kind.rawValue)"
        }
    }

    /// The legacy spelling, used as the canonical string form.
    public var canonical: String { WeightLayout.legacy.storedName(self) }

    public var description: String { canonical }
}

/// How a checkpoint spells tensor names. Explicit prefix maps, never substring renaming.
public enum WeightLayout: String, Sendable, Hashable, CaseIterable {
    /// transformers < 4.52: `model.layers.*`, `model.embed_tokens.weight`, `visual.*`, `lm_head.weight`.
    case legacy
    /// transformers >= 4.52: `model.language_model.*`, `model.visual.*`, `lm_head.weight`.
    case nested

    /// The prefix put before a component's relative paths.
    public func prefix(for component: WeightComponent) -> String {
        switch (self, component) {
        case (.legacy, .language): "model."
        case (.legacy, .vision): "visual."
        case (.nested, .language): "model.language_model."
        case (.nested, .vision): "model.visual."
        case (_, .head): ""
        }
    }

    /// The stored name of `name` in this layout.
    public func storedName(_ name: WeightName) -> String {
        prefix(for: name.component) + name.relativePath
    }

    /// Whether a stored name carries one of this layout's language or vision prefixes.
    func claims(_ storedName: String) -> Bool {
        switch self {
        case .nested:
            storedName.hasPrefix(prefix(for: .language)) || storedName.hasPrefix(prefix(for: .vision))
        case .legacy:
            (storedName.hasPrefix(prefix(for: .language)) && !WeightLayout.nested.claims(storedName)
                && !storedName.hasPrefix("model.visual."))
                || storedName.hasPrefix(prefix(for: .vision))
        }
    }

    /// The layout of a checkpoint, from its tensor names.
    public static func detect(from names: some Collection<String>) throws(WeightCheckError) -> WeightLayout {
        let legacyExample = names.sorted().first { WeightLayout.legacy.claims($0) }
        let nestedExample = names.sorted().first { WeightLayout.nested.claims($0) }
        switch (legacyExample, nestedExample) {
        case let (legacy?, nested?): throw .mixedLayout(legacyExample: legacy, nestedExample: nested)
        case (_?, nil): return .legacy
        case (nil, _?): return .nested
        case (nil, nil): throw .layoutNotRecognized(examples: Array(names.sorted().prefix(3)))
        }
    }
}

extension WeightName {
    /// Whether this is a linear layer's weight matrix (decoder attention and MLP projections, vision
    /// `attn.qkv`, `attn.proj` and MLP projections, the merger's two linear layers): the only tensors an
    /// FP8 checkpoint may store in 8 bits. Norms, embeddings, `patch_embed`, `lm_head` and biases are not.
    public var isLinearWeight: Bool {
        switch self {
        case let .decoder(_, tensor, kind):
            kind == .weight && tensor != .inputLayerNorm && tensor != .postAttentionLayerNorm
        case let .visionBlock(_, tensor, kind):
            kind == .weight && tensor != .norm1 && tensor != .norm2
        case let .merger(tensor, kind):
            kind == .weight && tensor != .norm
        case .tokenEmbedding, .finalNorm, .lmHead, .patchEmbed:
            false
        }
    }
}
