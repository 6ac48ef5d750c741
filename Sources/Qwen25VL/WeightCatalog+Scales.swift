import SafeTensors

/// How the scale of an 8-bit weight is stored.
public enum ScaleGranularity: String, Sendable, Hashable, Encodable {
    /// One scale per output row (`[rows]` or `[rows, 1]`).
    case perChannel = "per-channel"
    /// One scale for the whole matrix (`[]` or `[1]`), applied to every row.
    case perTensor = "per-tensor"

    /// The granularity of a scale of shape `shape` for a weight of `rows` rows, or nil when the shape fits
    /// neither (group- or block-wise scales).
    public init?(scaleShape shape: [Int], rows: Int) {
        if shape == [] || shape == [1] {
            self = .perTensor
        } else if shape == [rows] || shape == [rows, 1] {
            self = .perChannel
        } else {
            return nil
        }
    }
}

/// A linear weight stored in 8 bits (F8_E4M3) with a well-formed scale beside it, in the layout that
/// llm-compressor / vLLM "compressed-tensors" FP8 checkpoints use: `X.weight` (F8_E4M3, `[rows, columns]`),
/// `X.weight_scale` (F32, BF16 or F16) and optionally `X.input_scale` (a static activation scale, ignored:
/// activations are quantized dynamically).
public struct EightBitWeight: Sendable, Hashable {
    /// Canonical name of the weight.
    public let name: WeightName
    /// Its stored name (`...q_proj.weight`).
    public let storedName: String
    /// Output rows, one scale each.
    public let rows: Int
    /// Stored name of the scale (`...q_proj.weight_scale`).
    public let scaleName: String
    public let granularity: ScaleGranularity
    /// Stored name of the static activation scale, when the checkpoint has one (it is not used).
    public let inputScaleName: String?
}

extension WeightCatalog {
    /// The stored name of the scale of stored weight `weight` (`X.weight` -> `X.weight_scale`).
    public static func scaleName(ofWeight weight: String) -> String { weight + "_scale" }

    /// The stored name of the static activation scale beside stored weight `weight` (`X.weight` -> `X.input_scale`).
    public static func inputScaleName(ofWeight weight: String) -> String {
        (weight.hasSuffix(".weight") ? String(weight.dropLast(".weight".count)) : weight) + ".input_scale"
    }

    /// The stored weight a scale name belongs to (`X.weight_scale` or `X.input_scale` -> `X.weight`), or nil
    /// for a name that is no scale.
    static func weightName(ofScale name: String) -> String? {
        if name.hasSuffix(".weight_scale") { return String(name.dropLast("_scale".count)) }
        if name.hasSuffix(".input_scale") { return String(name.dropLast(".input_scale".count)) + ".weight" }
        return nil
    }

    /// Element types a weight scale may have.
    static let scaleDTypes: Set<TensorDType> = [.f32, .bf16, .f16]

    /// Every problem with 8-bit tensors and scales: 8-bit tensors that are not linear weights, 8-bit linear
    /// weights whose scale is missing or has the wrong shape or dtype, and scales whose weight is absent or
    /// not stored in 8 bits. Empty for a checkpoint without 8-bit tensors or scales.
    public func eightBitProblems(in tensors: [String: TensorInfo]) -> [WeightProblem] {
        var problems: [WeightProblem] = []
        for weight in expected {
            guard let info = tensors[weight.storedName], info.dtype == .f8e4m3 else { continue }
            guard weight.name.isLinearWeight else {
                problems.append(.eightBitNotLinear(name: weight.storedName))
                continue
            }
            let scaleName = Self.scaleName(ofWeight: weight.storedName)
            guard let scale = tensors[scaleName] else {
                problems.append(.scaleMissing(weight: weight.storedName, scale: scaleName))
                continue
            }
            if !Self.scaleDTypes.contains(scale.dtype) {
                problems.append(.scaleWrongDType(name: scaleName, dtype: scale.dtype.safetensorsName))
            }
            let rows = weight.shape.first ?? 1
            if ScaleGranularity(scaleShape: scale.shape, rows: rows) == nil {
                problems.append(.scaleWrongShape(name: scaleName, rows: rows, actual: scale.shape))
            }
        }
        for name in tensors.keys.sorted() {
            guard let weight = Self.weightName(ofScale: name), tensors[weight]?.dtype != .f8e4m3 else { continue }
            problems.append(
                .scaleWithoutWeight(name: name, weight: weight, weightDType: tensors[weight]?.dtype.safetensorsName))
        }
        return problems
    }

    /// The linear weights of `tensors` stored in 8 bits with a well-formed scale, in model order (the
    /// others are reported by ``eightBitProblems(in:)``).
    public func eightBitWeights(in tensors: [String: TensorInfo]) -> [EightBitWeight] {
        expected.compactMap { weight in
            let scaleName = Self.scaleName(ofWeight: weight.storedName)
            let rows = weight.shape.first ?? 1
            guard weight.name.isLinearWeight, tensors[weight.storedName]?.dtype == .f8e4m3,
                let scale = tensors[scaleName], Self.scaleDTypes.contains(scale.dtype),
                let granularity = ScaleGranularity(scaleShape: scale.shape, rows: rows)
            else { return nil }
            let inputScale = Self.inputScaleName(ofWeight: weight.storedName)
            return EightBitWeight(
                name: weight.name, storedName: weight.storedName, rows: rows, scaleName: scaleName,
                granularity: granularity, inputScaleName: tensors[inputScale] == nil ? nil : inputScale)
        }
    }
}
