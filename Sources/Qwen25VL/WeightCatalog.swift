import SafeTensors

/// One tensor a checkpoint must hold: canonical name, stored name, shape.
public struct ExpectedWeight: Sendable, Hashable {
    public let name: WeightName
    public let storedName: String
    public let shape: [Int]

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// One way a checkpoint differs from what the configuration describes.
public enum WeightProblem: Sendable, Hashable, CustomStringConvertible {
    case missing(name: String, expectedShape: [Int])
    case unexpected(name: String, shape: [Int])
    case wrongShape(name: String, expected: [Int], actual: [Int])
    /// An 8-bit (F8_E4M3) tensor that is not a linear layer's weight.
    case eightBitNotLinear(name: String)
    /// An 8-bit weight without its `weight_scale`.
    case scaleMissing(weight: String, scale: String)
    /// A `weight_scale` of another element type than F32, BF16 or F16.
    case scaleWrongDType(name: String, dtype: String)
    /// A `weight_scale` of neither one value per output row nor one value.
    case scaleWrongShape(name: String, rows: Int, actual: [Int])
    /// A `weight_scale` or `input_scale` whose weight is absent (`weightDType` nil) or not stored in 8 bits.
    case scaleWithoutWeight(name: String, weight: String, weightDType: String?)
    /// A scale holding NaN, infinite, zero or negative values.
    case scaleValuesInvalid(name: String, count: Int)

    public var description: String {
        switch self {
        case let .missing(name, shape): "missing tensor \(name) (expected shape \(shape))"
        case let .unexpected(name, shape):
            "unexpected tensor \(name) (shape \(shape)); the configuration has no place for it"
        case let .wrongShape(name, expected, actual): "tensor \(name) has shape \(actual), expected \(expected)"
        case let .eightBitNotLinear(name):
            "tensor \(name) is stored as F8_E4M3, but only linear-layer weights (attention and MLP projections, merger MLP) "
                + "may be 8-bit; keep it in BF16 when quantizing (e.g. list it in llm-compressor's ignore) or use a BF16 checkpoint"
        case let .scaleMissing(weight, scale):
            "8-bit weight \(weight) has no scale \(scale) beside it (F32, shape [rows, 1] per channel or [] per tensor): "
                + "the checkpoint is incomplete or not in the compressed-tensors FP8 layout; download it again or use a BF16 checkpoint"
        case let .scaleWrongDType(name, dtype):
            "scale \(name) has dtype \(dtype); weight scales must be F32, BF16 or F16: re-export the checkpoint"
        case let .scaleWrongShape(name, rows, actual):
            "scale \(name) has shape \(actual), expected [\(rows)] or [\(rows), 1] (one per output channel) or [] or [1] "
                + "(one per tensor); group- and block-wise scales are not supported: use a per-channel or per-tensor FP8 checkpoint"
        case let .scaleWithoutWeight(name, weight, nil):
            "scale \(name) has no weight \(weight) beside it: the checkpoint is incomplete or mixes files of two exports; "
                + "download it again"
        case let .scaleWithoutWeight(name, weight, dtype?):
            "scale \(name) belongs to \(weight), which is stored as \(dtype), not F8_E4M3: the checkpoint mixes quantized and "
                + "unquantized files; download it again or re-export it in one piece"
        case let .scaleValuesInvalid(name, count):
            "scale \(name) holds \(count) NaN, infinite, zero or negative value\(count == 1 ? "" : "s"): "
                + "the checkpoint is corrupt; download it again"
        }
    }
}

/// Why a checkpoint's tensors cannot serve a configuration.
public enum WeightCheckError: Error, CustomStringConvertible, Sendable, Equatable {
    case layoutNotRecognized(examples: [String])
    case mixedLayout(legacyExample: String, nestedExample: String)
    case problems([WeightProblem])

    public var description: String {
        switch self {
        case let .layoutNotRecognized(examples):
            "the checkpoint's tensor names (e.g. \(examples.joined(separator: ", "))) match neither the legacy (model.layers.*, visual.*) nor the newer (model.language_model.*, model.visual.*) Qwen2.5-VL layout"
        case let .mixedLayout(legacy, nested):
            "the checkpoint mixes the legacy layout (\(legacy)) and the newer one (\(nested)); re-export it with one transformers version"
        case let .problems(problems):
            "the checkpoint does not match config.json (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
                + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }
}

/// The full list of tensors (with shapes) a Qwen2.5-VL configuration needs, in one layout, and the
/// canonical-name -> stored-name lookup the model uses to fetch them.
public struct WeightCatalog: Sendable {
    public let configuration: Qwen25VLConfiguration
    public let layout: WeightLayout
    /// Every expected tensor, in model order (language, head, vision).
    public let expected: [ExpectedWeight]
    private let byCanonical: [String: Int]

    /// The catalog of `configuration` spelled in `layout`.
    public init(configuration: Qwen25VLConfiguration, layout: WeightLayout) {
        self.configuration = configuration
        self.layout = layout
        let names = Self.expectedShapes(configuration)
        expected = names.map { ExpectedWeight(name: $0.0, storedName: layout.storedName($0.0), shape: $0.1) }
        byCanonical = Dictionary(uniqueKeysWithValues: expected.enumerated().map { ($1.name.canonical, $0) })
    }

    /// Whether the output head is the token embedding (tied) rather than a separate `lm_head`.
    public var tiedEmbeddings: Bool { configuration.tieWordEmbeddings }

    /// The tensor whose rows score tokens: `lm_head.weight`, or the token embedding when tied.
    public var outputHead: WeightName { tiedEmbeddings ? .tokenEmbedding : .lmHead }

    /// The stored name of a canonical name in this catalog's layout.
    public func storedName(_ name: WeightName) -> String { layout.storedName(name) }

    /// The stored name for a canonical string (legacy spelling), or nil when the model has no such tensor.
    public func storedName(canonical: String) -> String? {
        byCanonical[canonical].map { expected[$0].storedName }
    }

    /// The expected shape of a tensor, or nil when the configuration has no such tensor.
    public func shape(of name: WeightName) -> [Int]? {
        byCanonical[name.canonical].map { expected[$0].shape }
    }

    /// Parameters the model uses (a tied head counted once).
    public var parameterCount: Int { expected.reduce(0) { $0 + $1.elementCount } }

    /// Every difference between `tensors` (stored name -> info) and the expected list, then every problem
    /// with 8-bit weights and their scales (``eightBitProblems(in:)``).
    /// With tied embeddings a stored `lm_head.weight` is accepted and ignored.
    public func problems(in tensors: [String: TensorInfo]) -> [WeightProblem] {
        var problems: [WeightProblem] = []
        var expectedNames: Set<String> = []
        for weight in expected {
            expectedNames.insert(weight.storedName)
            guard let info = tensors[weight.storedName] else {
                problems.append(.missing(name: weight.storedName, expectedShape: weight.shape))
                continue
            }
            if info.shape != weight.shape {
                problems.append(.wrongShape(name: weight.storedName, expected: weight.shape, actual: info.shape))
            }
        }
        // Scales (`X.weight_scale`, `X.input_scale`) are checked with their weights by eightBitProblems.
        for name in tensors.keys.sorted()
        where !expectedNames.contains(name) && !ignoredStoredNames.contains(name)
            && Self.weightName(ofScale: name) == nil
        {
            problems.append(.unexpected(name: name, shape: tensors[name]?.shape ?? []))
        }
        return problems + eightBitProblems(in: tensors)
    }

    /// Stored names that may be present and are not used (`lm_head.weight` when tied).
    public var ignoredStoredNames: Set<String> { tiedEmbeddings ? [layout.storedName(.lmHead)] : [] }

    /// Detects the layout of `checkpoint` and checks it holds exactly what `configuration` needs.
    /// Throws one error listing every missing, unexpected or wrongly shaped tensor and every misplaced
    /// 8-bit tensor or malformed scale.
    public static func validated(
        _ checkpoint: Checkpoint, configuration: Qwen25VLConfiguration
    ) throws(WeightCheckError) -> WeightCatalog {
        let catalog = WeightCatalog(
            configuration: configuration, layout: try WeightLayout.detect(from: checkpoint.tensorNames))
        let problems = catalog.problems(in: checkpoint.tensors)
        guard problems.isEmpty else { throw .problems(problems) }
        return catalog
    }

    // MARK: Shapes

    private static func expectedShapes(_ config: Qwen25VLConfiguration) -> [(WeightName, [Int])] {
        let text = config.text
        let hidden = text.hiddenSize
        let keyValueWidth = text.keyValueHeads * text.headDim
        var list: [(WeightName, [Int])] = [(.tokenEmbedding, [text.vocabSize, hidden])]
        for layer in 0..<max(0, text.numHiddenLayers) {
            let shapes: [(DecoderTensor, ParameterKind, [Int])] = [
                (.qProj, .weight, [text.numAttentionHeads * text.headDim, hidden]),
                (.qProj, .bias, [text.numAttentionHeads * text.headDim]),
                (.kProj, .weight, [keyValueWidth, hidden]), (.kProj, .bias, [keyValueWidth]),
                (.vProj, .weight, [keyValueWidth, hidden]), (.vProj, .bias, [keyValueWidth]),
                (.oProj, .weight, [hidden, text.numAttentionHeads * text.headDim]),
                (.gateProj, .weight, [text.intermediateSize, hidden]),
                (.upProj, .weight, [text.intermediateSize, hidden]),
                (.downProj, .weight, [hidden, text.intermediateSize]),
                (.inputLayerNorm, .weight, [hidden]), (.postAttentionLayerNorm, .weight, [hidden]),
            ]
            list += shapes.map { (.decoder(layer: layer, $0.0, $0.1), $0.2) }
        }
        list.append((.finalNorm, [hidden]))
        if !config.tieWordEmbeddings { list.append((.lmHead, [text.vocabSize, hidden])) }

        let vision = config.vision
        let width = vision.hiddenSize, inner = vision.intermediateSize, merged = vision.mergerHiddenSize
        list.append(
            (.patchEmbed, [width, vision.inChannels, vision.temporalPatchSize, vision.patchSize, vision.patchSize]))
        for block in 0..<max(0, vision.depth) {
            let shapes: [(VisionBlockTensor, ParameterKind, [Int])] = [
                (.norm1, .weight, [width]), (.norm2, .weight, [width]),
                (.qkv, .weight, [3 * width, width]), (.qkv, .bias, [3 * width]),
                (.proj, .weight, [width, width]), (.proj, .bias, [width]),
                (.gateProj, .weight, [inner, width]), (.gateProj, .bias, [inner]),
                (.upProj, .weight, [inner, width]), (.upProj, .bias, [inner]),
                (.downProj, .weight, [width, inner]), (.downProj, .bias, [width]),
            ]
            list += shapes.map { (.visionBlock(block: block, $0.0, $0.1), $0.2) }
        }
        list += [
            (.merger(.norm, .weight), [width]),
            (.merger(.fc1, .weight), [merged, merged]), (.merger(.fc1, .bias), [merged]),
            (.merger(.fc2, .weight), [vision.outHiddenSize, merged]), (.merger(.fc2, .bias), [vision.outHiddenSize]),
        ]
        return list
    }
}
