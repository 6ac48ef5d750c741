/// Problems reading `config.json` or `preprocessor_config.json`.
public enum ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    case cannotRead(file: String, reason: String)
    case invalidJSON(file: String, detail: String)
    case missingField(file: String, field: String)
    case wrongType(file: String, field: String, expected: String)
    case unsupportedModelType(file: String, modelType: String)
    case unsupportedQuantization(file: String, quantization: String)
    case invalid(file: String, problems: [String])

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            "cannot read \(file): \(reason)"
        case let .invalidJSON(file, detail):
            "\(file) is not valid JSON (\(detail)); re-download it"
        case let .missingField(file, field):
            "\(file) has no \"\(field)\"; a Qwen2.5-VL config.json needs it"
        case let .wrongType(file, field, expected):
            "\"\(field)\" in \(file) should be \(expected)"
        case let .unsupportedModelType(file, modelType):
            "\(file) describes a \"\(modelType)\" model; only qwen2_5_vl (Qwen2.5-VL, e.g. Lychee-Rerank-MM) is supported"
        case let .unsupportedQuantization(file, quantization):
            "\(file) declares unsupported quantization \(quantization); use a bf16 or FP8 (E4M3) checkpoint"
        case let .invalid(file, problems):
            "\(file) is inconsistent:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        }
    }

    /// Maps a decoding failure to a message naming the field (`text_config.hidden_size`).
    static func from(_ error: any Error, file: String) -> ConfigurationError {
        guard let error = error as? DecodingError else { return .invalidJSON(file: file, detail: "\(error)") }
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, context):
            return .missingField(file: file, field: path(context.codingPath + [key]))
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            return .wrongType(file: file, field: path(context.codingPath), expected: typeName(type))
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return .invalidJSON(file: file, detail: context.debugDescription) }
            return .wrongType(
                file: file, field: path(context.codingPath), expected: "a valid value (\(context.debugDescription))")
        @unknown default:
            return .invalidJSON(file: file, detail: "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is [Int].Type: "an array of integers"
        case is [Double].Type: "an array of numbers"
        default: "a JSON object of the documented shape"
        }
    }
}
