import Foundation
import SafeTensors

/// How a checkpoint stores the weights the model uses, as `inspect` shows it: the linear weights kept in
/// 8 bits (E4M3) with the granularity and range of their scales, and the element types of everything else.
public struct WeightStorage: Sendable, Encodable, Equatable {
    /// `F8_E4M3` when some weights are stored in 8 bits, else nil.
    public let eightBitFormat: String?
    /// Weights the model uses that are stored in 8 bits.
    public let eightBitWeights: Int
    /// 8-bit weights with one scale per output row.
    public let perChannelScales: Int
    /// 8-bit weights with one scale for the whole matrix.
    public let perTensorScales: Int
    /// Static activation scales (`input_scale`) present and ignored: activations are quantized dynamically.
    public let inputScalesIgnored: Int
    /// The smallest and largest finite scale value; nil without 8-bit weights.
    public let smallestScale: Float?
    public let largestScale: Float?
    /// Element types of the other tensors the model uses (scales not counted), sorted: `["BF16"]`.
    public let otherDTypes: [String]

    enum CodingKeys: String, CodingKey {
        case eightBitFormat = "eight_bit_format"
        case eightBitWeights = "eight_bit_weights"
        case perChannelScales = "per_channel_scales"
        case perTensorScales = "per_tensor_scales"
        case inputScalesIgnored = "input_scales_ignored"
        case smallestScale = "scale_min"
        case largestScale = "scale_max"
        case otherDTypes = "other_dtypes"
        case scaleGranularity = "scale_granularity"
        case summary
    }

    /// Reads the storage of the tensors `catalog` expects in `checkpoint` (scale tensors are read in full;
    /// they are small). Malformed scales are left out here: ``WeightCatalog/problems(in:)`` reports them.
    public init(catalog: WeightCatalog, checkpoint: Checkpoint) {
        let tensors = checkpoint.tensors
        let used = catalog.expected.compactMap { tensors[$0.storedName] }
        let eightBit = catalog.eightBitWeights(in: tensors)
        let scales = eightBit.flatMap { (try? checkpoint.floats($0.scaleName)) ?? [] }.filter(\.isFinite)
        eightBitWeights = used.filter { $0.dtype == .f8e4m3 }.count
        eightBitFormat = eightBitWeights > 0 ? TensorDType.f8e4m3.safetensorsName : nil
        perChannelScales = eightBit.filter { $0.granularity == .perChannel }.count
        perTensorScales = eightBit.filter { $0.granularity == .perTensor }.count
        inputScalesIgnored = eightBit.filter { $0.inputScaleName != nil }.count
        smallestScale = scales.min()
        largestScale = scales.max()
        otherDTypes = Set(used.filter { $0.dtype != .f8e4m3 }.map(\.dtype.safetensorsName)).sorted()
    }

    /// `per-channel`, `per-tensor` or `mixed` (both kinds); nil without 8-bit weights.
    public var scaleGranularity: String? {
        switch (perChannelScales, perTensorScales) {
        case (0, 0): nil
        case (_, 0): ScaleGranularity.perChannel.rawValue
        case (0, _): ScaleGranularity.perTensor.rawValue
        default: "mixed"
        }
    }

    /// One line: `8-bit E4M3 (196 linear weights, per-channel scales) + BF16 (rest)`, or `BF16` for a
    /// checkpoint without 8-bit weights.
    public var summary: String {
        let rest = otherDTypes.joined(separator: ", ")
        guard eightBitWeights > 0 else { return otherDTypes.joined(separator: " + ") }
        let scales: String
        switch scaleGranularity {
        case "mixed"?: scales = "\(perChannelScales) per-channel and \(perTensorScales) per-tensor scales"
        case let granularity?: scales = "\(granularity) scales"
        case nil: scales = "no usable scales"
        }
        let weights = "\(eightBitWeights) linear weight\(eightBitWeights == 1 ? "" : "s")"
        return "8-bit E4M3 (\(weights), \(scales))" + (rest.isEmpty ? "" : " + \(rest) (rest)")
    }

    /// The scales line of the text report: `1.2e-05 ... 3.4e-03 (fp32); 1 input_scale ignored (...)`; nil
    /// without 8-bit weights.
    public var scaleRange: String? {
        guard let smallestScale, let largestScale else { return nil }
        var line = String(format: "%.3g ... %.3g", smallestScale, largestScale)
        if inputScalesIgnored > 0 {
            line +=
                "; \(inputScalesIgnored) static input_scale\(inputScalesIgnored == 1 ? "" : "s") ignored "
                + "(activations are quantized dynamically)"
        }
        return line
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(summary, forKey: .summary)
        try c.encode(eightBitFormat, forKey: .eightBitFormat)
        try c.encode(eightBitWeights, forKey: .eightBitWeights)
        try c.encode(scaleGranularity, forKey: .scaleGranularity)
        try c.encode(perChannelScales, forKey: .perChannelScales)
        try c.encode(perTensorScales, forKey: .perTensorScales)
        try c.encode(smallestScale, forKey: .smallestScale)
        try c.encode(largestScale, forKey: .largestScale)
        try c.encode(inputScalesIgnored, forKey: .inputScalesIgnored)
        try c.encode(otherDTypes, forKey: .otherDTypes)
    }
}
