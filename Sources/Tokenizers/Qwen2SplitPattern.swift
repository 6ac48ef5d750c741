/// A hand-written matcher for the Qwen2 pre-tokenizer regex, used with `Split` behaviour `Isolated`:
///
///     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
///
/// Why this equals Oniguruma's leftmost-first backtracking search (what `tokenizers` runs), alternative by
/// alternative, at a start position `i` (classes as in `ScalarClass`; `j` = end of the white-space run at `i`):
/// 1. `(?i:'s|'t|'re|'ve|'m|'ll|'d)`: the alternatives differ in their second character, so at most one can
///    match. Case-insensitive: `s` also matches `S` and U+017F (long s, whose case fold is `s`); no other
///    character folds to any of `s t r e v m l d`, and no single character folds to a two-letter tail.
/// 2. `[^\r\n\p{L}\p{N}]?\p{L}+`: the greedy `?` first tries to take one non-letter, non-number, non-line-break
///    character, which succeeds only when a letter follows; otherwise the `?` is empty and a letter must be at
///    `i`. `\p{L}+` then takes the whole letter run (nothing after it can fail, so no backtracking).
/// 3. `\p{N}`: one number character.
/// 4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`: an optional U+0020 then a run of "other" characters, then any line breaks.
///    When the space is not followed by an "other" character, the branch without it fails too (a space is
///    white space), so the branch fails.
/// 5. `\s*[\r\n]+`: `\s*` first takes the run `i..<j`; backtracking gives characters back until `[\r\n]+` can
///    start, i.e. at the last line break `q` of the run, and `[\r\n]+` then ends right after `q`. So the match
///    is `i...q`, or the branch fails when the run holds no line break.
/// 6. `\s+(?!\S)`: `\s+` takes `i..<j`. At the end of the text the lookahead holds; otherwise `j` is a
///    non-space, so one character is given back and the lookahead holds at `j - 1` (a space), provided that
///    leaves at least one character: the match is `i..<j-1` when `j - i >= 2`, else the branch fails.
/// 7. `\s+`: the whole run `i..<j`.
/// Every character is a letter, a number, white space or "other", so one of 2, 3, 4 or 7 always matches:
/// the pieces tile the text with no gaps, which is what `Isolated` produces.
enum Qwen2SplitPattern {
    /// The pattern text as it appears in Qwen2 `tokenizer.json` files.
    static let regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Appends to `ends` the end index of each piece of `scalars` (whose classes are `classes`), in order.
    static func split(
        scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<ScalarClass>, ends: inout [Int]
    ) {
        let count = scalars.count
        var start = 0
        while start < count {
            let end = matchEnd(at: start, scalars: scalars, classes: classes)
            ends.append(end)
            start = end
        }
    }

    /// The end of the match starting at `i` (always greater than `i`).
    @inline(__always)
    private static func matchEnd(
        at i: Int, scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<ScalarClass>
    ) -> Int {
        let count = scalars.count
        let first = classes[i]
        // 1. Contractions.
        if scalars[i] == 0x27, i + 1 < count {
            let second = lowercased(scalars[i + 1])
            if second == 0x73 || second == 0x74 || second == 0x6D || second == 0x64 { return i + 2 }  // s t m d
            if i + 2 < count {
                let third = lowercased(scalars[i + 2])
                if (second == 0x72 || second == 0x76) && third == 0x65 { return i + 3 }  // re ve
                if second == 0x6C && third == 0x6C { return i + 3 }  // ll
            }
        }
        switch first {
        case .letter:  // 2. without the optional prefix
            return letterRunEnd(from: i + 1, classes: classes)
        case .number:  // 3.
            return i + 1
        case .other:
            // 2. with a one-character prefix, then 4. without the optional space.
            if i + 1 < count, classes[i + 1] == .letter { return letterRunEnd(from: i + 2, classes: classes) }
            return punctuationEnd(from: i, classes: classes)
        case .space, .lineBreak:
            // 2. with a white-space prefix (not a line break), then 4. with its optional space.
            if first == .space, i + 1 < count, classes[i + 1] == .letter {
                return letterRunEnd(from: i + 2, classes: classes)
            }
            if scalars[i] == 0x20, i + 1 < count, classes[i + 1] == .other {
                return punctuationEnd(from: i + 1, classes: classes)
            }
            return whitespaceEnd(from: i, classes: classes)
        }
    }

    /// ASCII lower case, and U+017F (long s) folded to `s`; other values unchanged.
    @inline(__always)
    private static func lowercased(_ value: UInt32) -> UInt32 {
        if value >= 0x41 && value <= 0x5A { return value + 0x20 }
        return value == 0x17F ? 0x73 : value
    }

    @inline(__always)
    private static func letterRunEnd(from index: Int, classes: UnsafeBufferPointer<ScalarClass>) -> Int {
        var end = index
        while end < classes.count, classes[end] == .letter { end += 1 }
        return end
    }

    /// Alternative 4 from `index`, where an "other" character is known to be.
    @inline(__always)
    private static func punctuationEnd(from index: Int, classes: UnsafeBufferPointer<ScalarClass>) -> Int {
        var end = index + 1
        while end < classes.count, classes[end] == .other { end += 1 }
        while end < classes.count, classes[end] == .lineBreak { end += 1 }
        return end
    }

    /// Alternatives 5, 6 and 7 at `index`, where white space is known to be.
    @inline(__always)
    private static func whitespaceEnd(from index: Int, classes: UnsafeBufferPointer<ScalarClass>) -> Int {
        var runEnd = index
        var lastLineBreak = -1
        while runEnd < classes.count, classes[runEnd].isWhitespace {
            if classes[runEnd] == .lineBreak { lastLineBreak = runEnd }
            runEnd += 1
        }
        if lastLineBreak >= 0 { return lastLineBreak + 1 }  // 5.
        if runEnd == classes.count { return runEnd }  // 6. at the end of the text
        if runEnd - index >= 2 { return runEnd - 1 }  // 6. leave the last space for the next word
        return runEnd  // 7.
    }
}
