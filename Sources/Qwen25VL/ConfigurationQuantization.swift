/// The `quantization_config` of a quantized checkpoint's `config.json`, as far as loading needs it: which
/// method wrote the weights and how, so that a checkpoint this engine cannot read is refused by name.
///
/// Read: 8-bit float weights (E4M3) with one scale per output channel or per tensor, as written by
/// llm-compressor / vLLM (`"quant_method": "compressed-tensors"`, format `float-quantized`) and by
/// `"quant_method": "fp8"` exporters without block-wise scales. Everything else (AWQ, GPTQ,
/// bitsandbytes, integer or 4-bit compressed-tensors schemes, block-wise FP8) is refused.
public struct QuantizationConfiguration: Codable, Sendable, Equatable {
    /// `"compressed-tensors"`, `"fp8"`, `"awq"`, `"gptq"`, `"bitsandbytes"`, ...
    public var quantMethod: String?
    /// compressed-tensors: how the tensors are stored (`"float-quantized"`, `"naive-quantized"`,
    /// `"pack-quantized"`, ...).
    public var format: String?
    /// compressed-tensors: the schemes, each applied to some modules.
    public var configGroups: [String: Group]?
    /// `fp8`: the block size of block-wise weight scales (`weight_scale_inv`), which are not read.
    public var weightBlockSize: [Int]?

    /// One compressed-tensors scheme; only its weight settings matter (activations are quantized dynamically).
    public struct Group: Codable, Sendable, Equatable {
        public var weights: WeightScheme?
    }

    /// How a compressed-tensors scheme stores weights.
    public struct WeightScheme: Codable, Sendable, Equatable {
        /// 8 for FP8.
        public var numBits: Int?
        /// `"float"` or `"int"`.
        public var type: String?
        /// `"channel"`, `"tensor"`, `"group"`, `"block"`, ...
        public var strategy: String?

        enum CodingKeys: String, CodingKey {
            case numBits = "num_bits"
            case type, strategy
        }

        /// What this engine cannot read in the scheme ("4-bit int weights", "group-wise weight scales"), or nil
        /// for 8-bit float weights with per-channel or per-tensor scales.
        var unsupportedDescription: String? {
            if (type ?? "float") != "float" || (numBits ?? 8) != 8 {
                return "\(numBits.map { "\($0)-bit " } ?? "")\(type ?? "float") weights"
            }
            if let strategy, strategy != "channel", strategy != "tensor" { return "\(strategy)-wise weight scales" }
            return nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case quantMethod = "quant_method"
        case format
        case configGroups = "config_groups"
        case weightBlockSize = "weight_block_size"
    }

    /// The compressed-tensors formats that store 8-bit float weights as plain `F8_E4M3` tensors.
    static let floatFormats: Set<String> = ["float-quantized", "naive-quantized"]

    /// What this engine cannot read, as a phrase naming it ("awq", "compressed-tensors (4-bit int
    /// weights)"), or nil when the weights are 8-bit floats with per-channel or per-tensor scales.
    public var unsupportedDescription: String? {
        switch quantMethod {
        case nil:
            return "without a quant_method"
        case "fp8":
            guard let weightBlockSize else { return nil }
            return "fp8 with block-wise scales (weight_block_size \(weightBlockSize))"
        case "compressed-tensors":
            if let format, !Self.floatFormats.contains(format) { return "compressed-tensors (format \(format))" }
            for name in (configGroups ?? [:]).keys.sorted() {
                if let unsupported = configGroups?[name]?.weights?.unsupportedDescription {
                    return "compressed-tensors (\(unsupported) in \(name))"
                }
            }
            return nil
        case let method?:
            return method
        }
    }
}
