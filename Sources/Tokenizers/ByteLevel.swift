/// The GPT-2 byte-level alphabet: every byte 0...255 is written as one printable character, so that a
/// vocabulary of byte strings can be stored as JSON text. Printable Latin-1 bytes (`!`...`~`, `¡`...`¬`,
/// `®`...`ÿ`) stand for themselves; the other 68 bytes take the characters U+0100, U+0101, ... in byte order
/// (so the space 0x20 is `Ġ` and the newline 0x0A is `Ċ`).
enum ByteLevelAlphabet {
    /// `character[byte]`: the character that stands for `byte`.
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var nextExtra: UInt32 = 256
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                table[byte] = Unicode.Scalar(nextExtra) ?? "\0"  // 256...323: always valid scalars
                nextExtra += 1
            }
        }
        return table
    }()

    /// The inverse map: character -> byte, for the 256 characters of the alphabet.
    static let bytes: [Unicode.Scalar: UInt8] = {
        var map = [Unicode.Scalar: UInt8]()
        for (byte, character) in characters.enumerated() { map[character] = UInt8(byte) }
        return map
    }()

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The alphabet text of a byte string (`" hi"` -> `"Ġhi"`).
    static func text<Bytes: Sequence<UInt8>>(of bytes: Bytes) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(characters[Int(byte)]) }
        return String(scalars)
    }

    /// What the `ByteLevel` decoder turns one token into: its bytes when every character belongs to the
    /// alphabet, else the token's own UTF-8 (as `tokenizers` does for added tokens such as `"<tool call>"`).
    static func decodedBytes(of token: String) -> [UInt8] {
        var result = [UInt8]()
        result.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let byte = bytes[scalar] else { return Array(token.utf8) }
            result.append(byte)
        }
        return result
    }
}
