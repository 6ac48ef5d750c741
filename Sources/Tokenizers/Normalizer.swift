import Foundation

/// The `normalizer` stage: rewrites a text segment before it is split into words.
protocol TextNormalizer: Sendable {
    /// The normalized UTF-8 of `utf8`, or nil when it is already normal (the common case, kept allocation-free).
    func normalize(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]?
}

/// Builds the normalizer a `tokenizer.json` asks for: none, `NFC`, or a `Sequence` of those.
func makeNormalizer(_ configuration: ComponentConfiguration?) throws(TokenizerError) -> (any TextNormalizer)? {
    guard let configuration else { return nil }
    switch configuration.type {
    case "NFC":
        return NFCNormalizer()
    case "Sequence":
        var steps: [any TextNormalizer] = []
        for member in configuration.members ?? [] {
            if let step = try makeNormalizer(member) { steps.append(step) }
        }
        return steps.count == 1 ? steps[0] : SequenceNormalizer(steps: steps)
    default:
        throw .unsupportedComponent(stage: "normalizer", type: configuration.type, supported: ["NFC", "Sequence"])
    }
}

/// Unicode canonical composition (NFC), as `unicodedata.normalize("NFC", ...)` / the `NFC` normalizer.
///
/// Fast path: a segment made only of scalars that are NFC-stable in any context (canonical combining class 0,
/// never changed by NFC, never the second half of a composition) is returned as is. Those ranges are listed in
/// `isStable` and checked against Foundation's NFC by the tests; anything else goes through Foundation.
struct NFCNormalizer: TextNormalizer {
    func normalize(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var index = 0
        while index < utf8.count {
            let lead = utf8[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let (value, length) = UTF8Scalars.decode(utf8, at: index)
            if !Self.isStable(value) { return slowPath(utf8) }
            index += length
        }
        return nil
    }

    /// Scalars that NFC leaves alone wherever they appear.
    static func isStable(_ value: UInt32) -> Bool {
        switch value {
        case 0..<0x300,  // Basic Latin, Latin-1, Latin Extended-A/B, IPA, spacing modifiers
            0x2010...0x2027, 0x2030...0x205E,  // general punctuation
            0x200B...0x200F,  // zero-width space, joiners, direction marks
            0x3000...0x3029,  // CJK symbols and punctuation (before the combining tone marks)
            0x3041...0x3096, 0x30A1...0x30FA,  // hiragana, katakana (not the voicing marks)
            0x4E00...0x9FFF,  // CJK unified ideographs
            0xAC00...0xD7A3,  // Hangul syllables
            0xFE00...0xFE0F,  // variation selectors
            0xFF01...0xFF60,  // full-width ASCII forms
            0x1F300...0x1FAFF:  // emoji and pictographs
            return true
        default:
            return false
        }
    }

    private func slowPath(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let text = String(decoding: utf8, as: UTF8.self)
        let normalized = text.precomposedStringWithCanonicalMapping
        let bytes = Array(normalized.utf8)
        return bytes.elementsEqual(utf8) ? nil : bytes
    }
}

/// Normalizers applied one after another (a `Sequence` normalizer).
struct SequenceNormalizer: TextNormalizer {
    let steps: [any TextNormalizer]

    func normalize(_ utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var current: [UInt8]? = nil
        for step in steps {
            let next =
                current.map { bytes in bytes.withUnsafeBufferPointer { step.normalize($0) } }
                ?? step.normalize(utf8)
            if let next { current = next }
        }
        return current
    }
}

/// Decoding of valid UTF-8 (the tokenizer only ever sees Swift strings, which are valid).
enum UTF8Scalars {
    /// The scalar value starting at `index` and its length in bytes.
    @inline(__always)
    static func decode(_ utf8: UnsafeBufferPointer<UInt8>, at index: Int) -> (value: UInt32, length: Int) {
        let lead = UInt32(utf8[index])
        if lead < 0x80 { return (lead, 1) }
        if lead < 0xE0 { return ((lead & 0x1F) << 6 | UInt32(utf8[index + 1] & 0x3F), 2) }
        if lead < 0xF0 {
            return ((lead & 0x0F) << 12 | UInt32(utf8[index + 1] & 0x3F) << 6 | UInt32(utf8[index + 2] & 0x3F), 3)
        }
        let value =
            (lead & 0x07) << 18 | UInt32(utf8[index + 1] & 0x3F) << 12
            | UInt32(utf8[index + 2] & 0x3F) << 6 | UInt32(utf8[index + 3] & 0x3F)
        return (value, 4)
    }

    /// The scalar that ends just before `end`, and its length.
    static func decodeLast(_ utf8: UnsafeBufferPointer<UInt8>, before end: Int) -> (value: UInt32, length: Int) {
        var start = end - 1
        while start > 0 && utf8[start] & 0xC0 == 0x80 { start -= 1 }
        return decode(utf8, at: start)
    }
}
