/// The character classes the Qwen2 split pattern distinguishes, with Oniguruma's Unicode meanings:
/// `\p{L}` is general category L (Lu, Ll, Lt, Lm, Lo), `\p{N}` is N (Nd, Nl, No) and `\s` is the Unicode
/// `White_Space` property (U+0009...U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000...U+200A, U+2028, U+2029,
/// U+202F, U+205F, U+3000). `\r` and `\n` are white space kept apart because the pattern names them.
enum ScalarClass: UInt8 {
    /// Anything else: punctuation, symbols, marks, controls, unassigned (the pattern's `[^\s\p{L}\p{N}]`).
    case other = 0
    case letter
    case number
    /// White space other than `\r` and `\n`.
    case space
    /// `\r` or `\n`.
    case lineBreak

    var isWhitespace: Bool { self == .space || self == .lineBreak }

    /// The class of `value` (a Unicode scalar value).
    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x10000 { return ScalarClass(rawValue: basicPlane[Int(value)]) ?? .other }
        return compute(value)
    }

    /// Classes of U+0000...U+FFFF, computed once from the standard library's Unicode tables.
    private static let basicPlane: [UInt8] = (0..<0x10000).map { compute(UInt32($0)).rawValue }

    private static func compute(_ value: UInt32) -> ScalarClass {
        if value == 0x0A || value == 0x0D { return .lineBreak }
        guard let scalar = Unicode.Scalar(value) else { return .other }  // surrogate code points
        let properties = scalar.properties
        if properties.isWhitespace { return .space }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
