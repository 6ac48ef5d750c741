/// The `pre_tokenizer` stage: cuts a normalized segment into words, each then encoded on its own by BPE.
///
/// Supported: `ByteLevel` (no prefix space, `use_regex` false) alone, or as the last member of a `Sequence`
/// after one `Split` with the Qwen2 regex and behaviour `Isolated`. The `ByteLevel` step only maps bytes to its
/// printable alphabet; the BPE model works on bytes directly, so the step needs no code here.
struct PreTokenizer: Sendable {
    /// Whether words are cut with the Qwen2 pattern (else the whole segment is one word).
    let splitsWithQwen2Pattern: Bool

    /// Appends to `pieces` the byte ranges of the words of `utf8`.
    func split(_ utf8: UnsafeBufferPointer<UInt8>, into pieces: inout [Range<Int>], scratch: inout SplitScratch) {
        guard !utf8.isEmpty else { return }
        guard splitsWithQwen2Pattern else {
            pieces.append(0..<utf8.count)
            return
        }
        scratch.load(utf8)
        scratch.ends.removeAll(keepingCapacity: true)
        scratch.scalars.withUnsafeBufferPointer { scalars in
            scratch.classes.withUnsafeBufferPointer { classes in
                Qwen2SplitPattern.split(scalars: scalars, classes: classes, ends: &scratch.ends)
            }
        }
        var start = 0
        for end in scratch.ends {
            let byteEnd = scratch.byteOffsets[end]
            pieces.append(start..<byteEnd)
            start = byteEnd
        }
    }
}

/// Reusable buffers for `PreTokenizer.split`: the scalars of a segment, their classes and byte offsets.
struct SplitScratch {
    var scalars: [UInt32] = []
    var classes: [ScalarClass] = []
    /// `byteOffsets[k]`: where scalar `k` starts; one extra entry holds the byte count.
    var byteOffsets: [Int] = []
    var ends: [Int] = []

    mutating func load(_ utf8: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        byteOffsets.removeAll(keepingCapacity: true)
        var index = 0
        while index < utf8.count {
            let (value, length) = UTF8Scalars.decode(utf8, at: index)
            scalars.append(value)
            classes.append(ScalarClass.of(value))
            byteOffsets.append(index)
            index += length
        }
        byteOffsets.append(utf8.count)
    }
}

/// Builds the pre-tokenizer a `tokenizer.json` asks for, refusing anything but the Qwen2 byte-level setup.
func makePreTokenizer(_ configuration: ComponentConfiguration?) throws(TokenizerError) -> PreTokenizer {
    let expected = "Sequence [Split (Qwen2 regex, Isolated), ByteLevel (add_prefix_space false, use_regex false)]"
    guard let configuration else {
        throw .unsupportedSetting(stage: "pre_tokenizer", setting: "type", value: "null", expected: expected)
    }
    let steps = configuration.type == "Sequence" ? configuration.members ?? [] : [configuration]
    var splits = false
    for (position, step) in steps.enumerated() {
        switch step.type {
        case "Split":
            guard position == 0, steps.count == 2 else {
                throw .unsupportedSetting(
                    stage: "pre_tokenizer", setting: "order", value: steps.map(\.type).joined(separator: ", "),
                    expected: expected)
            }
            try checkSplit(step)
            splits = true
        case "ByteLevel":
            guard position == steps.count - 1 else {
                throw .unsupportedSetting(
                    stage: "pre_tokenizer", setting: "order", value: steps.map(\.type).joined(separator: ", "),
                    expected: expected)
            }
            try checkByteLevel(step)
        default:
            throw .unsupportedComponent(
                stage: "pre_tokenizer", type: step.type, supported: ["Sequence", "Split", "ByteLevel"])
        }
    }
    guard steps.last?.type == "ByteLevel" else {
        throw .unsupportedSetting(stage: "pre_tokenizer", setting: "ByteLevel", value: "missing", expected: expected)
    }
    return PreTokenizer(splitsWithQwen2Pattern: splits)
}

private func checkSplit(_ step: ComponentConfiguration) throws(TokenizerError) {
    guard let regex = step.regex, regex == Qwen2SplitPattern.regex else {
        let value = step.regex.map { "Regex \($0)" } ?? step.literal.map { "String \($0)" } ?? "missing"
        throw .unsupportedSetting(
            stage: "pre_tokenizer Split", setting: "pattern", value: value, expected: Qwen2SplitPattern.regex)
    }
    guard step.behavior == "Isolated" else {
        throw .unsupportedSetting(
            stage: "pre_tokenizer Split", setting: "behavior", value: step.behavior ?? "missing",
            expected: "Isolated")
    }
    guard step.invert != true else {
        throw .unsupportedSetting(stage: "pre_tokenizer Split", setting: "invert", value: "true", expected: "false")
    }
}

/// `ByteLevel` as a pre-tokenizer: only the Qwen2 settings are implemented.
private func checkByteLevel(_ step: ComponentConfiguration) throws(TokenizerError) {
    if step.addPrefixSpace == true {
        throw .unsupportedSetting(
            stage: "pre_tokenizer ByteLevel", setting: "add_prefix_space", value: "true", expected: "false")
    }
    if step.useRegex ?? true {
        throw .unsupportedSetting(
            stage: "pre_tokenizer ByteLevel", setting: "use_regex",
            value: step.useRegex == nil ? "missing (default true)" : "true",
            expected: "false (the GPT-2 regex is not implemented)")
    }
}
