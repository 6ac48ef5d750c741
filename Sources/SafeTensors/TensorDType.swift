/// The element types this engine reads from safetensors files.
///
/// Any other dtype found in a file (F64, I64, F8_E4M3, ...) is refused by name when the file is opened.
public enum TensorDType: String, Sendable, Hashable, CaseIterable, Codable {
    /// bfloat16: the top 16 bits of an IEEE float32.
    case bf16 = "BF16"
    /// IEEE 754 half precision.
    case f16 = "F16"
    /// IEEE 754 single precision.
    case f32 = "F32"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bf16, .f16: 2
        case .f32: 4
        }
    }

    /// The dtype string used in safetensors headers (`"BF16"`, `"F16"`, `"F32"`).
    public var safetensorsName: String { rawValue }

    /// The dtype named by a safetensors header string, or nil when unsupported.
    public init?(safetensorsName: String) {
        self.init(rawValue: safetensorsName)
    }

    /// The list of supported names, for messages: "BF16, F16, F32".
    static let supportedNames = allCases.map(\.rawValue).joined(separator: ", ")
}
