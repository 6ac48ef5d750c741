import ArgumentParser
import CUDABackend
import Foundation
import Reranker

/// `lychee-rerank rerank`: scores documents against a query and prints them ranked.
struct RerankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rerank",
        abstract: "Rank documents (text, images or both) by relevance to a query.",
        discussion: """
            Documents come from --document (repeatable, text) and/or --documents FILE (JSON Lines, one
            {"text": ..., "image": PATH} per line; relative image paths are read against the file's folder).
            Without --json, prints a ranked table; with --json, one object {"results": [{"index", "score",
            "logit", "tokens", "truncated"}, ...]} sorted by score, highest first.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var imageBounds: ImageBoundsOptions

    @OptionGroup var weightLoadingOptions: WeightLoadingOptions

    @Option(name: .long, help: "Where the model runs: auto (CUDA when a GPU is usable, else CPU), cpu or cuda.")
    var backend = BackendChoice.auto

    @Option(name: .long, help: BackendSelection.gpuMemoryLimitHelp)
    var gpuMemoryLimitGib: Double?

    @Option(name: .long, help: BackendSelection.gpuWaitHelp)
    var gpuWait: HostWait?

    @Option(name: .long, help: "What relevance means for this request (default: Lychee's web search instruction).")
    var instruction: String?

    @Option(name: .long, help: "The query text.")
    var query: String?

    @Option(name: .customLong("query-image"), help: "An image file that is (part of) the query.")
    var queryImage: String?

    @Option(name: .customLong("document"), help: "A text document (repeat for more).")
    var documentTexts: [String] = []

    @Option(name: .customLong("documents"), help: "A JSON Lines file of documents.")
    var documentsFile: String?

    @Option(name: .customLong("top-n"), help: "Print only the N best documents.")
    var topN: Int?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    @Option(name: .customLong("token-budget"), help: "Most tokens packed into one forward pass.")
    var tokenBudget: Int = RerankerOptions().tokenBudget

    @Option(name: .customLong("max-length"), help: "Longest prompt in tokens; longer document text is cut.")
    var maxLength: Int = RerankerOptions().maxLength

    @Flag(name: .long, help: "Print load and scoring times and throughput on standard error.")
    var timings = false

    func validate() throws {
        if query == nil && queryImage == nil { throw ValidationError("give --query TEXT, --query-image PATH, or both") }
        if documentTexts.isEmpty && documentsFile == nil {
            throw ValidationError("give documents with --document TEXT (repeatable) or --documents FILE")
        }
        if let topN, topN < 1 { throw ValidationError("--top-n must be at least 1") }
        if tokenBudget < 1 { throw ValidationError("--token-budget must be at least 1") }
        try BackendSelection.validate(gpuMemoryLimitGiB: gpuMemoryLimitGib)
    }

    func run() async throws {
        var documents = documentTexts.map { RerankItem(text: $0) }
        if let documentsFile { documents += try DocumentsFile.load(URL(fileURLWithPath: documentsFile)) }
        var queryItem = RerankItem(text: query ?? "")
        if let queryImage {
            let url = URL(fileURLWithPath: queryImage)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ValidationError("query image \(url.path) does not exist")
            }
            queryItem.image = .file(url)
        }

        let modelDirectory = try await modelOptions.resolve()
        let clock = ContinuousClock()
        let loadStart = clock.now
        let engine = try BackendSelection.make(backend, gpuMemoryLimitGiB: gpuMemoryLimitGib, hostWait: gpuWait)
        let reranker = try imageBounds.apply(
            to: Reranker.load(
                modelDirectory: modelDirectory, backend: engine,
                options: RerankerOptions(maxLength: maxLength, tokenBudget: tokenBudget),
                weightLoading: weightLoadingOptions.weightLoading,
                linearPrecision: weightLoadingOptions.linearPrecision(on: engine)))
        let loaded = clock.now
        var progress: (@Sendable (Int, Int) -> Void)? = nil
        if documents.count >= 16 {
            progress = { done, total in StandardError.write("scored \(done)/\(total) documents\n") }
        }
        let ranked = try reranker.rerank(
            query: queryItem, documents: documents, instruction: instruction, progress: progress)
        let scored = clock.now
        try RerankOutput.requireFinite(ranked)  // every document, also those --top-n leaves out
        let results = topN.map { Array(ranked.prefix($0)) } ?? ranked

        print(json ? try RerankOutput.json(results) : RerankOutput.table(results, documents: documents))
        fflush(nil)  // all streams: the results reach the terminal before the timings
        if timings {
            let load: Double = (loaded - loadStart).seconds
            let work: Double = (scored - loaded).seconds
            let tokens = ranked.reduce(0) { $0 + $1.tokens }
            let docsPerSecond = Double(documents.count) / work
            let tokensPerSecond = Double(tokens) / work
            StandardError.write(
                "load \(fixed(load, 3)) s, scoring \(fixed(work, 3)) s, \(documents.count) documents "
                    + "(\(fixed(docsPerSecond, 1)) docs/s), \(tokens) tokens (\(fixed(tokensPerSecond, 0)) tokens/s)\n")
        }
    }
}

/// `value` with `digits` decimals.
func fixed(_ value: Double, _ digits: Int) -> String {
    String(format: "%.\(digits)f", value)
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

/// Writes to standard error (progress and timings never mix with the results on standard output).
enum StandardError {
    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
