import ArgumentParser
import Foundation
import Tokenizers

/// `lychee-rerank tokenize`: prints the Qwen2 token ids of a text, as the Hugging Face `tokenizers` library gives
/// them for `encode(text, add_special_tokens=False)`.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text as one JSON array.",
        discussion: """
            Added tokens written in the text (<|im_start|>, <|image_pad|>, ...) become their ids; nothing is added \
            around the text. Without TEXT, all of standard input is tokenized byte for byte (a trailing newline \
            is kept). With --benchmark N, the text is encoded N times and timings are printed instead.
            """
    )

    @Option(help: "A tokenizer.json file, or a model directory holding one.")
    var tokenizer: String

    @Argument(help: "The text to tokenize (default: all of standard input).")
    var text: String?

    @Option(help: "Encode the text N times and print timings (word cache off, then warm) instead of ids.")
    var benchmark: Int?

    @Option(help: "With --benchmark: encode on this many threads at once (as a server tokenizes), one tokenizer.")
    var threads: Int = 1

    func validate() throws {
        if let benchmark, benchmark < 1 { throw ValidationError("--benchmark needs a count of at least 1") }
        if threads < 1 { throw ValidationError("--threads needs a count of at least 1, got \(threads)") }
        if threads > 1, benchmark == nil {
            throw ValidationError("--threads applies to --benchmark; add --benchmark N")
        }
    }

    func run() throws {
        let url = URL(fileURLWithPath: tokenizer)
        let input = try text ?? Self.readStandardInput()
        if let benchmark {
            try TokenizerBenchmark(url: url, text: input, iterations: benchmark, threads: threads).run()
            return
        }
        let ids = try Tokenizer(contentsOf: url).encode(input)
        print("[" + ids.map(String.init).joined(separator: ",") + "]")
    }

    /// All of standard input, which must be UTF-8.
    static func readStandardInput() throws -> String {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        let validLength = validUTF8Prefix(data)
        guard validLength == data.count else { throw TokenizeCommandError.invalidUTF8(offset: validLength) }
        return String(decoding: data, as: UTF8.self)
    }

    /// The length of the longest valid UTF-8 prefix of `data` (all of it when valid).
    static func validUTF8Prefix(_ data: Data) -> Int {
        var decoder = UTF8()
        var iterator = data.makeIterator()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return offset
            case .error: return offset
            }
        }
    }
}

enum TokenizeCommandError: Error, CustomStringConvertible {
    case invalidUTF8(offset: Int)

    var description: String {
        switch self {
        case .invalidUTF8(let offset):
            return "standard input is not valid UTF-8 (first bad byte at offset \(offset)); "
                + "convert it first, for example with `iconv -t UTF-8`"
        }
    }
}

/// Times `encode` on one text, with the word cache off and then warm; with several threads, all encoding at once
/// through the one tokenizer (their shared word cache included), the rate is all threads' tokens over the wall time.
struct TokenizerBenchmark {
    let url: URL
    let text: String
    let iterations: Int
    var threads = 1

    func run() throws {
        let loadStart = ContinuousClock.now
        let cached = try Tokenizer(contentsOf: url)
        let loadTime = ContinuousClock.now - loadStart
        let uncached = try Tokenizer(contentsOf: url, wordCacheCapacity: 0)
        let tokens = cached.encode(text).count
        print("tokenizer: \(url.path) (loaded in \(milliseconds(loadTime)) ms)")
        print("text: \(text.utf8.count) bytes, \(tokens) tokens; \(iterations) runs each")
        guard threads > 1 else {
            report("cache off", times: measure(uncached), tokens: tokens)
            report("cache warm", times: measure(cached), tokens: tokens)
            return
        }
        print("\(threads) threads at once:")
        for (label, tokenizer) in [("cache off", uncached), ("cache warm", cached)] {
            _ = tokenizer.encode(text)  // warm-up (fills the cache when there is one)
            let (text, iterations) = (self.text, self.iterations)
            let start = ContinuousClock.now
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                for _ in 0..<iterations { _ = tokenizer.encode(text) }
            }
            let wall = ContinuousClock.now - start
            let rate = Int(Double(threads * iterations * tokens) / max(seconds(wall), 1e-9))
            print("\(label): \(milliseconds(wall)) ms for \(threads * iterations) encodes, \(rate) tokens/s")
        }
    }

    private func measure(_ tokenizer: Tokenizer) -> [Duration] {
        _ = tokenizer.encode(text)  // warm-up (fills the cache when there is one)
        return (0..<iterations).map { _ in
            let start = ContinuousClock.now
            _ = tokenizer.encode(text)
            return ContinuousClock.now - start
        }
    }

    private func report(_ label: String, times: [Duration], tokens: Int) {
        let sorted = times.sorted()
        let median = sorted[sorted.count / 2]
        let rate = seconds(median) > 0 ? Int(Double(tokens) / seconds(median)) : 0
        print("\(label): median \(milliseconds(median)) ms, min \(milliseconds(sorted[0])) ms, \(rate) tokens/s")
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func milliseconds(_ duration: Duration) -> String { String(format: "%.3f", seconds(duration) * 1e3) }
}
