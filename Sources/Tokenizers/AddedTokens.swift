/// A token from `added_tokens` (`<|im_start|>`, `<|image_pad|>`, ...), matched in the text before anything else.
struct AddedToken: Sendable, Equatable {
    let id: Int32
    let content: String
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool
    let special: Bool
}

/// One part of a text after added tokens are cut out: plain text (a byte range) or an added token's id.
enum TextSegment: Equatable {
    case text(Range<Int>)
    case token(Int32)
}

/// Finds added tokens in UTF-8 text the way `tokenizers`' `AddedVocabulary::find_matches` does:
/// leftmost-longest matches scanned left to right (the search resumes after each match), `single_word` tokens
/// dropped unless no word character (`\w`) touches them, `lstrip`/`rstrip` tokens swallowing the white space
/// (`\s`) beside them. The swallowed space and the token become the token's id alone.
struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    private let patterns: [[UInt8]]
    /// `candidates[b]`: indices of the patterns starting with byte `b`, longest first.
    private let candidates: [[Int]]

    /// Matches `tokens`, token `k` spelled `patterns[k]` in the text (its content, normalized when it says so).
    init(tokens: [AddedToken], patterns: [[UInt8]]) {
        self.tokens = tokens
        self.patterns = patterns
        var candidates = [[Int]](repeating: [], count: 256)
        for (index, pattern) in patterns.enumerated() {
            if let first = pattern.first { candidates[Int(first)].append(index) }
        }
        self.candidates = candidates.map { list in list.sorted { patterns[$0].count > patterns[$1].count } }
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// The segments of `utf8`, in order.
    func segments(_ utf8: UnsafeBufferPointer<UInt8>) -> [TextSegment] {
        let count = utf8.count
        var result: [TextSegment] = []
        var segmentStart = 0
        var position = 0
        while position < count {
            guard let (index, matchEnd) = longestMatch(at: position, in: utf8) else {
                position += 1
                continue
            }
            let token = tokens[index]
            var start = position
            var stop = matchEnd
            position = matchEnd
            if token.singleWord {
                let wordBefore = start > 0 && WordCharacters.isWord(UTF8Scalars.decodeLast(utf8, before: start).value)
                let wordAfter = stop < count && WordCharacters.isWord(UTF8Scalars.decode(utf8, at: stop).value)
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > 0 {
                    let (value, length) = UTF8Scalars.decodeLast(utf8, before: newStart)
                    guard WordCharacters.isSpace(value) else { break }
                    newStart -= length
                }
                start = max(newStart, segmentStart)
            }
            if token.rstrip {
                while stop < count {
                    let (value, length) = UTF8Scalars.decode(utf8, at: stop)
                    guard WordCharacters.isSpace(value) else { break }
                    stop += length
                }
            }
            if segmentStart < start { result.append(.text(segmentStart..<start)) }
            result.append(.token(token.id))
            segmentStart = stop
        }
        if segmentStart != count { result.append(.text(segmentStart..<count)) }
        return result
    }

    @inline(__always)
    private func longestMatch(at position: Int, in utf8: UnsafeBufferPointer<UInt8>) -> (Int, Int)? {
        let list = candidates[Int(utf8[position])]
        if list.isEmpty { return nil }
        for index in list {
            let pattern = patterns[index]
            let end = position + pattern.count
            guard end <= utf8.count else { continue }
            var offset = 1
            while offset < pattern.count && pattern[offset] == utf8[position + offset] { offset += 1 }
            if offset == pattern.count { return (index, end) }
        }
        return nil
    }
}

/// The Unicode classes `tokenizers` uses around added tokens (Rust `regex` meanings).
enum WordCharacters {
    /// `\w`: Alphabetic, marks, decimal numbers, connector punctuation, join controls.
    static func isWord(_ value: UInt32) -> Bool {
        guard let scalar = Unicode.Scalar(value) else { return false }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// `\s`: the `White_Space` property.
    static func isSpace(_ value: UInt32) -> Bool {
        Unicode.Scalar(value)?.properties.isWhitespace ?? false
    }
}
