import Foundation
import SafeTensors
import Tokenizers

/// What `lychee-rerank inspect` reports about a model directory: architecture, sizes, layout,
/// shards, settings and every problem found. Building one never throws: failures become problems.
public struct CheckpointInspection: Sendable, Encodable {
    /// One file of the checkpoint.
    public struct Shard: Sendable, Encodable, Equatable {
        public let file: String
        public let bytes: Int
        public let tensors: Int
    }

    public let directory: String
    /// "Qwen2.5-VL 7B-like", "Qwen2.5-VL 3B-like" or "Qwen2.5-VL (custom size)"; nil without a config.
    public let architecture: String?
    /// Parameters the model uses (tied head counted once); nil when the config is unusable.
    public let parameterCount: Int?
    /// Stored dtype -> number of tensors.
    public let dtypes: [String: Int]
    /// How the weights the model uses are stored (8-bit linear weights and their scales, the other element
    /// types); nil when the config or the layout is unusable.
    public let weightStorage: WeightStorage?
    /// `quantization_config.quant_method` of config.json (`compressed-tensors`, `fp8`), nil when absent.
    public let quantMethod: String?
    /// `legacy` or `nested`; nil when undetected.
    public let layout: WeightLayout?
    public let tiedEmbeddings: Bool?
    /// True when embeddings are tied and the checkpoint nevertheless stores `lm_head.weight`.
    public let lmHeadIgnored: Bool
    public let shards: [Shard]
    public let configStyle: ConfigurationStyle?
    public let text: TextConfiguration?
    public let vision: VisionConfiguration?
    public let preprocessor: PreprocessorConfiguration?
    /// Whether the preprocessor settings came from `preprocessor_config.json` (else Lychee defaults).
    public let preprocessorFromFile: Bool
    /// Every problem; empty when the checkpoint is usable.
    public let problems: [String]

    /// Whether the model directory can be loaded.
    public var isUsable: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case directory, architecture, dtypes, layout, shards, text, vision, preprocessor, problems
        case parameterCount = "parameter_count"
        case tiedEmbeddings = "tied_embeddings"
        case lmHeadIgnored = "lm_head_ignored"
        case configStyle = "config_style"
        case preprocessorFromFile = "preprocessor_from_file"
        case usable
        case weightStorage = "weight_storage"
        case quantMethod = "quant_method"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(directory, forKey: .directory)
        try c.encode(architecture, forKey: .architecture)
        try c.encode(parameterCount, forKey: .parameterCount)
        try c.encode(dtypes, forKey: .dtypes)
        try c.encode(weightStorage, forKey: .weightStorage)
        try c.encode(quantMethod, forKey: .quantMethod)
        try c.encode(layout?.rawValue, forKey: .layout)
        try c.encode(tiedEmbeddings, forKey: .tiedEmbeddings)
        try c.encode(lmHeadIgnored, forKey: .lmHeadIgnored)
        try c.encode(shards, forKey: .shards)
        try c.encode(configStyle, forKey: .configStyle)
        try c.encode(text, forKey: .text)
        try c.encode(vision, forKey: .vision)
        try c.encode(preprocessor, forKey: .preprocessor)
        try c.encode(preprocessorFromFile, forKey: .preprocessorFromFile)
        try c.encode(problems, forKey: .problems)
        try c.encode(isUsable, forKey: .usable)
    }

    /// Inspects the model directory at `directory`; image pixel limits are checked against prompts of
    /// `maxPromptTokens` tokens.
    public init(directory: URL, maxPromptTokens: Int = ModelChecks.trainingPromptLength) {
        var problems: [String] = []
        self.directory = directory.path

        var configuration: Qwen25VLConfiguration?
        do { configuration = try Qwen25VLConfiguration(contentsOf: directory) } catch {
            problems.append(error.description)
        }

        let preprocessorFile = directory.appendingPathComponent(PreprocessorConfiguration.fileName)
        preprocessorFromFile = FileManager.default.fileExists(atPath: preprocessorFile.path)
        var preprocessor: PreprocessorConfiguration?
        do { preprocessor = try PreprocessorConfiguration.load(directory: directory) } catch {
            problems.append(error.description)
        }
        if let preprocessor, let configuration { problems += preprocessor.mismatches(with: configuration.vision) }
        if let preprocessor {
            problems += ModelChecks.pixelLimitProblems(preprocessor, maxPromptTokens: maxPromptTokens)
        }
        self.preprocessor = preprocessor

        var checkpoint: Checkpoint?
        do { checkpoint = try Checkpoint(url: directory) } catch { problems.append(error.description) }
        if let checkpoint { problems += ModelChecks.nonFiniteProblems(in: checkpoint) }
        shards = (checkpoint?.files ?? []).map {
            Shard(file: $0.url.lastPathComponent, bytes: $0.fileSize, tensors: $0.tensors.count)
        }
        dtypes = (checkpoint?.tensors.values.map(\.dtype.safetensorsName) ?? []).reduce(into: [:]) {
            $0[$1, default: 0] += 1
        }

        var layout: WeightLayout?
        if let checkpoint {
            do { layout = try WeightLayout.detect(from: checkpoint.tensorNames) } catch {
                problems.append(error.description)
            }
        }
        self.layout = layout
        if let configuration {
            let catalog = WeightCatalog(configuration: configuration, layout: layout ?? .legacy)
            if let checkpoint, layout != nil {
                problems += catalog.problems(in: checkpoint.tensors).map(\.description)
                weightStorage = WeightStorage(catalog: catalog, checkpoint: checkpoint)
            } else {
                weightStorage = nil
            }
            parameterCount = catalog.parameterCount
            lmHeadIgnored = catalog.ignoredStoredNames.contains { checkpoint?.info($0) != nil }
            architecture = Self.architectureName(configuration)
        } else {
            weightStorage = nil
            parameterCount = nil
            lmHeadIgnored = false
            architecture = nil
        }
        problems += Self.tokenizerProblems(directory: directory, configuration: configuration)
        tiedEmbeddings = configuration?.tieWordEmbeddings
        quantMethod = configuration?.quantization?.quantMethod
        configStyle = configuration?.style
        text = configuration?.text
        vision = configuration?.vision
        self.problems = problems
    }

    /// The problem reported for a folder without `tokenizer.json` (at `file`).
    public static func missingTokenizerProblem(file: URL) -> String {
        "\(file.path) is missing: the model folder needs its tokenizer; download the whole model folder"
    }

    /// The tokenizer must be present, readable, and fit the embedding table.
    static func tokenizerProblems(directory: URL, configuration: Qwen25VLConfiguration?) -> [String] {
        let file = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return [missingTokenizerProblem(file: file)] }
        do {
            let tokenizer = try Tokenizer(contentsOf: file)
            guard let configuration else { return [] }
            return ModelChecks.tokenizerProblems(tokenizer, embeddingRows: configuration.text.vocabSize)
        } catch {
            return ["\(error)"]
        }
    }

    static func architectureName(_ configuration: Qwen25VLConfiguration) -> String {
        switch (configuration.text.hiddenSize, configuration.text.numHiddenLayers) {
        case (3584, 28): "Qwen2.5-VL 7B-like"
        case (2048, 36): "Qwen2.5-VL 3B-like"
        default: "Qwen2.5-VL (custom size)"
        }
    }

    // MARK: Rendering

    /// The report as a pretty-printed JSON object (sorted keys).
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The report as aligned, human-readable text lines.
    public func rendered() -> String {
        var lines = ["Model:         \(directory)"]
        if let architecture, let text, let vision {
            lines.append(
                "Architecture:  \(architecture) (text \(text.hiddenSize) x \(text.numHiddenLayers) layers, vision \(vision.hiddenSize) x \(vision.depth) blocks)"
            )
        }
        if let parameterCount {
            let scaled =
                parameterCount >= 1_000_000_000
                ? String(format: " (%.2f B)", Double(parameterCount) / 1e9)
                : parameterCount >= 1_000_000 ? String(format: " (%.2f M)", Double(parameterCount) / 1e6) : ""
            lines.append("Parameters:    \(Self.grouped(parameterCount))\(scaled)")
        }
        if !dtypes.isEmpty {
            lines.append(
                "Dtypes:        "
                    + dtypes.keys.sorted().map { "\($0) (\(dtypes[$0] ?? 0) tensors)" }.joined(separator: ", "))
        }
        if let weightStorage {
            lines.append("Weights:       \(weightStorage.summary)")
            if let range = weightStorage.scaleRange { lines.append("Scales:        \(range)") }
        }
        if let quantMethod { lines.append("Quantization:  \(quantMethod) (config.json quantization_config)") }
        if let layout {
            let prefixes = "\(layout.prefix(for: .language))*, \(layout.prefix(for: .vision))*"
            var head = tiedEmbeddings == true ? "tied embeddings (no separate lm_head)" : "separate lm_head"
            if lmHeadIgnored { head = "tied embeddings (stored lm_head.weight ignored)" }
            lines.append("Layout:        \(layout.rawValue) (\(prefixes)); \(head)")
        }
        if let configStyle { lines.append("Config style:  \(configStyle.rawValue)") }
        if !shards.isEmpty {
            let total = shards.reduce(0) { $0 + $1.bytes }
            lines.append("Shards:        \(shards.count) file\(shards.count == 1 ? "" : "s"), \(Self.size(total))")
            lines += shards.map { "  \($0.file)  \(Self.size($0.bytes))  (\($0.tensors) tensors)" }
        }
        if let text {
            let sections = text.mropeSections.map { "\($0)" } ?? "none"
            lines.append(
                "Text:          hidden \(text.hiddenSize), layers \(text.numHiddenLayers), heads \(text.numAttentionHeads) (kv \(text.keyValueHeads), head dim \(text.headDim)), MLP \(text.intermediateSize), vocab \(text.vocabSize), rms eps \(text.rmsNormEpsilon), rope theta \(text.ropeBase), mrope \(sections)"
            )
        }
        if let vision {
            lines.append(
                "Vision:        depth \(vision.depth), hidden \(vision.hiddenSize), heads \(vision.numHeads), MLP \(vision.intermediateSize), patch \(vision.patchSize), temporal \(vision.temporalPatchSize), merge \(vision.spatialMergeSize), window \(vision.windowSize), full attention blocks \(vision.fullattBlockIndexes), out \(vision.outHiddenSize)"
            )
        }
        if let preprocessor {
            let source = preprocessorFromFile ? PreprocessorConfiguration.fileName : "Lychee defaults"
            lines.append(
                "Preprocessor:  pixels \(preprocessor.minPixels)...\(preprocessor.maxPixels), patch \(preprocessor.patchSize), merge \(preprocessor.mergeSize), temporal \(preprocessor.temporalPatchSize) (from \(source))"
            )
        }
        if problems.isEmpty {
            lines.append("Problems:      no problems")
        } else {
            lines.append("Problems:      \(problems.count)")
            lines += problems.map { "  - " + $0.replacingOccurrences(of: "\n", with: "\n    ") }
        }
        return lines.joined(separator: "\n")
    }

    private static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    private static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<1024: "\(bytes) B"
        case ..<(1 << 20): String(format: "%.1f KiB", Double(bytes) / 1024)
        case ..<(1 << 30): String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
        default: String(format: "%.2f GiB", Double(bytes) / Double(1 << 30))
        }
    }
}
