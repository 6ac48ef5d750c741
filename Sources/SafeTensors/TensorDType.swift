/// The element types this engine reads from safetensors files.
///
/// Any other dtype found in a file (F64, I64, F8_E5M2, ...) is refused by name when the file is opened.
public enum TensorDType: String, Sendable, Hashable, CaseIterable, Codable {
    /// bfloat16: the top 16 bits of an IEEE float32.
    case bf16 = "BF16"
    /// IEEE 754 half precision.
    case f16 = "F16"
    /// IEEE 754 single precision.
    case f32 = "F32"
    /// 8-bit float E4M3 ("fn": no infinities, NaN `0x7F`/`0xFF`, largest finite 448), as FP8 checkpoints
    /// store linear-layer weights beside an fp32 `weight_scale`.
    case f8e4m3 = "F8_E4M3"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f8e4m3: 1
        case .bf16, .f16: 2
        case .f32: 4
        }
    }

    /// The dtype string used in safetensors headers (`"BF16"`, `"F16"`, `"F32"`, `"F8_E4M3"`).
    public var safetensorsName: String { rawValue }

    /// The dtype named by a safetensors header string, or nil when unsupported.
    public init?(safetensorsName: String) {
        self.init(rawValue: safetensorsName)
    }

    /// The list of supported names, for messages: "BF16, F16, F32, F8_E4M3".
    static let supportedNames = allCases.map(\.rawValue).joined(separator: ", ")

    /// Why a header dtype string is refused, for messages: the supported list, and for another 8-bit
    /// float (`F8_E5M2`, `F8_E8M0`, ...) which one of them is read.
    static func refusal(of name: String) -> String {
        let list = "only \(supportedNames) are supported"
        guard name.hasPrefix("F8_") else { return list }
        return list
            + " (E4M3 is the 8-bit float type supported: use an FP8 checkpoint quantized to F8_E4M3, or a BF16 one)"
    }
}
