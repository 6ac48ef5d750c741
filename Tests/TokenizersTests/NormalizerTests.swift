import Foundation
import Testing

@testable import Tokenizers

@Suite struct NormalizerTests {
    /// The fast path skips NFC for text made only of "stable" scalars. NFC changes a text only where a scalar
    /// decomposes, has a non-zero combining class, or can be the second part of a composition (and every such
    /// second part appears after the first position in the full decomposition of some composite). So check
    /// each stable scalar against all three.
    @Test func stableRangesAreUnchangedByNFC() {
        var secondParts = Set<UInt32>()
        for value in UInt32(0xC0)...0x1FFFF {
            guard let scalar = Unicode.Scalar(value), scalar.properties.generalCategory != .unassigned else { continue }
            let decomposed = String(Character(scalar)).decomposedStringWithCanonicalMapping.unicodeScalars
            for part in decomposed.dropFirst() { secondParts.insert(part.value) }
        }
        #expect(secondParts.contains(0x301) && secondParts.contains(0x11A8))  // the scan itself works
        var failures: [String] = []
        for value in UInt32(0)...0x1FFFF where NFCNormalizer.isStable(value) {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let alone = String(Character(scalar))
            if !alone.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(alone.unicodeScalars)
                || scalar.properties.canonicalCombiningClass != .notReordered || secondParts.contains(value)
            {
                failures.append(String(value, radix: 16))
            }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "not NFC-stable: \(failures)")
    }

    @Test func composesDecomposedText() {
        var input = Array("e\u{301} \u{1100}\u{1161}\u{11A8}".utf8)
        let output = input.withUnsafeMutableBufferPointer { NFCNormalizer().normalize(UnsafeBufferPointer($0)) }
        #expect(output.map { String(decoding: $0, as: UTF8.self) } == "é 각")
        var ascii = Array("plain text".utf8)
        #expect(ascii.withUnsafeMutableBufferPointer { NFCNormalizer().normalize(UnsafeBufferPointer($0)) } == nil)
    }
}
