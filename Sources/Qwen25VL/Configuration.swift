import Foundation
import RegularFiles

/// How a `config.json` arranges the text fields.
public enum ConfigurationStyle: String, Sendable, Codable {
    /// Older files (transformers < 4.52): text fields at the top level, `vision_config` nested.
    case flat
    /// Newer files: text fields under `text_config` (possibly also repeated at the top level).
    case nested
}

/// A Codable copy of a Qwen2.5-VL `config.json`, in either the flat or the nested style.
///
/// Decoding fills absent optional fields with their defaults; `validate(file:)` checks the sizes fit
/// together. Encoding writes the nested style.
public struct Qwen25VLConfiguration: Codable, Sendable, Equatable {
    public var modelType: String?
    public var architectures: [String]?
    public var text: TextConfiguration
    public var vision: VisionConfiguration
    public var imageTokenId: Int
    public var videoTokenId: Int
    public var visionStartTokenId: Int
    public var visionEndTokenId: Int
    public var visionTokenId: Int
    /// Whether the output head shares the token embedding (3B) or has its own `lm_head` (7B).
    public var tieWordEmbeddings: Bool
    /// The style the file was written in.
    public var style: ConfigurationStyle
    /// `quantization_config`, for a quantized checkpoint (nil for bf16 weights).
    public var quantization: QuantizationConfiguration?

    /// The model type this engine implements.
    public static let supportedModelType = "qwen2_5_vl"

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case architectures
        case textConfig = "text_config"
        case visionConfig = "vision_config"
        case imageTokenId = "image_token_id"
        case videoTokenId = "video_token_id"
        case visionStartTokenId = "vision_start_token_id"
        case visionEndTokenId = "vision_end_token_id"
        case visionTokenId = "vision_token_id"
        case tieWordEmbeddings = "tie_word_embeddings"
        case ropeScaling = "rope_scaling"
        case ropeParameters = "rope_parameters"
        case ropeTheta = "rope_theta"
        case torchDtype = "torch_dtype"
        case dtype
        case quantization = "quantization_config"
    }

    /// Creates a configuration from parts (tests, tools).
    public init(
        text: TextConfiguration, vision: VisionConfiguration, tieWordEmbeddings: Bool,
        imageTokenId: Int = 151655, videoTokenId: Int = 151656, visionStartTokenId: Int = 151652,
        visionEndTokenId: Int = 151653, visionTokenId: Int = 151654, style: ConfigurationStyle = .nested
    ) {
        self.modelType = Self.supportedModelType
        self.architectures = ["Qwen2_5_VLForConditionalGeneration"]
        self.text = text
        self.vision = vision
        self.tieWordEmbeddings = tieWordEmbeddings
        self.imageTokenId = imageTokenId
        self.videoTokenId = videoTokenId
        self.visionStartTokenId = visionStartTokenId
        self.visionEndTokenId = visionEndTokenId
        self.visionTokenId = visionTokenId
        self.style = style
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decodeIfPresent(String.self, forKey: .modelType)
        architectures = try c.decodeIfPresent([String].self, forKey: .architectures)
        if c.contains(.textConfig) {
            style = .nested
            text = try c.decode(TextConfiguration.self, forKey: .textConfig)
            // Fields some writers keep only at the top level.
            text.ropeScaling = try text.ropeScaling ?? c.decodeIfPresent(RopeSettings.self, forKey: .ropeScaling)
            text.ropeParameters =
                try text.ropeParameters ?? c.decodeIfPresent(RopeSettings.self, forKey: .ropeParameters)
            text.ropeTheta = try text.ropeTheta ?? c.decodeIfPresent(Double.self, forKey: .ropeTheta)
            text.dtype = try text.dtype ?? c.decodeIfPresent(String.self, forKey: .dtype)
            text.torchDtype = try text.torchDtype ?? c.decodeIfPresent(String.self, forKey: .torchDtype)
        } else {
            style = .flat
            text = try TextConfiguration(from: decoder)
        }
        vision = try c.decodeIfPresent(VisionConfiguration.self, forKey: .visionConfig) ?? .defaults
        imageTokenId = try c.decodeIfPresent(Int.self, forKey: .imageTokenId) ?? 151655
        videoTokenId = try c.decodeIfPresent(Int.self, forKey: .videoTokenId) ?? 151656
        visionStartTokenId = try c.decodeIfPresent(Int.self, forKey: .visionStartTokenId) ?? 151652
        visionEndTokenId = try c.decodeIfPresent(Int.self, forKey: .visionEndTokenId) ?? 151653
        visionTokenId = try c.decodeIfPresent(Int.self, forKey: .visionTokenId) ?? 151654
        tieWordEmbeddings =
            try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? text.tieWordEmbeddings ?? false
        quantization = try c.decodeIfPresent(QuantizationConfiguration.self, forKey: .quantization)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(modelType, forKey: .modelType)
        try c.encodeIfPresent(architectures, forKey: .architectures)
        try c.encode(text, forKey: .textConfig)
        try c.encode(vision, forKey: .visionConfig)
        try c.encode(imageTokenId, forKey: .imageTokenId)
        try c.encode(videoTokenId, forKey: .videoTokenId)
        try c.encode(visionStartTokenId, forKey: .visionStartTokenId)
        try c.encode(visionEndTokenId, forKey: .visionEndTokenId)
        try c.encode(visionTokenId, forKey: .visionTokenId)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(quantization, forKey: .quantization)
    }

    // MARK: Loading

    /// The conventional file name.
    public static let fileName = "config.json"

    /// Decodes and validates `config.json` contents; `file` names the source in messages.
    public init(jsonData: Data, file: String = fileName) throws(ConfigurationError) {
        do {
            self = try JSONDecoder().decode(Self.self, from: jsonData)
        } catch {
            throw ConfigurationError.from(error, file: file)
        }
        try validate(file: file)
    }

    /// Reads `config.json` from a model directory (or the file itself).
    public init(contentsOf url: URL) throws(ConfigurationError) {
        let file = url.hasDirectoryPath || url.pathExtension != "json" ? url.appendingPathComponent(Self.fileName) : url
        let data: Data
        do { data = try RegularFile.contents(of: file) } catch {
            throw .cannotRead(file: file.path, reason: "\(error.reason); a model directory needs config.json")
        }
        try self.init(jsonData: data, file: file.path)
    }

    // MARK: Validation

    /// Every inconsistency in the configuration, as sentences (empty when usable).
    public func problems() -> [String] {
        var problems = text.problems() + vision.problems(textHiddenSize: text.hiddenSize)
        for (name, id) in [
            ("image_token_id", imageTokenId), ("video_token_id", videoTokenId),
            ("vision_start_token_id", visionStartTokenId), ("vision_end_token_id", visionEndTokenId),
        ] where text.vocabSize > 0 && (id < 0 || id >= text.vocabSize) {
            problems.append("\(name) \(id) is outside the vocabulary of \(text.vocabSize) tokens")
        }
        return problems
    }

    /// Throws when the model type is not Qwen2.5-VL, the weights are quantized in a way this engine does
    /// not read (anything but 8-bit float E4M3), or the sizes do not fit together.
    public func validate(file: String = fileName) throws(ConfigurationError) {
        if let modelType, modelType != Self.supportedModelType {
            throw .unsupportedModelType(file: file, modelType: modelType)
        }
        if let unsupported = quantization?.unsupportedDescription {
            throw .unsupportedQuantization(file: file, quantization: unsupported)
        }
        let problems = problems()
        guard problems.isEmpty else { throw .invalid(file: file, problems: problems) }
    }
}
