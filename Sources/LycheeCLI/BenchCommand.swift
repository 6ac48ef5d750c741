import ArgumentParser
import CUDABackend
import Foundation
import ImageProcessing
import Qwen25VL
import Reranker
import TensorKit
import Workloads

/// `lychee-rerank bench --model DIR`: times the BENCHMARK.md workloads end to end through `Reranker`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract:
            "Time the benchmark workloads (W1-W4) through the reranker: docs/s, tokens/s, FLOP utilisation, GPU memory.",
        discussion: """
            Model FLOPs count each pair's decoder tokens (2 x decoder matrix parameters per token) and each \
            image the request embeds (vision tower, computed from the configuration); utilisation divides \
            their rate by --peak-tflops. GPU memory is the driver's total in use on the device (cuMemGetInfo), \
            context included, peak over the workload; live GiB is what the backend had in use at once (weights and \
            activations, without its free ranges).
            """
    )

    @Option(name: .long, help: "The model directory.")
    var model: String

    @OptionGroup var weightLoadingOptions: WeightLoadingOptions
    @OptionGroup var imageBounds: ImageBoundsOptions

    @Option(name: .long, help: "auto, cpu or cuda.")
    var backend: BackendChoice = .auto

    @Option(
        name: .long,
        help:
            "W1, W2, W3, W4, the serving mixes S1, S2, S3, S4 (requests one after another), a comma-separated list, or all (W1-W4)."
    )
    var workload: String = "all"

    /// The workloads asked for, in order.
    var workloadIDs: [String] {
        workload == "all" ? BenchWorkload.ids : workload.split(separator: ",").map { String($0) }
    }

    @Option(name: .long, help: "Requests of a serving mix (S1-S4) per timed run.")
    var serveRequests: Int = 16

    @Option(name: .long, help: "Host memory in MiB for the image embedding cache (0: none, as for W1-W4's figures).")
    var imageCacheMib: Int = 0

    @Option(name: .long, help: "Host memory in MiB for the prompt prefix cache (0: none).")
    var prefixCacheMib: Int = 0

    @Option(name: .long, help: BackendSelection.prefixCopyHelp)
    var prefixDeviceMib: Int?

    @Option(name: .long, help: "Timed runs per workload after one warm-up run (the median is reported).")
    var repeats: Int = 3

    @Option(name: .long, help: "Untimed warm-up runs per workload.")
    var warmups: Int = 1

    @Option(name: .long, help: "Use only the first N documents of each workload (for slow backends).")
    var limitDocuments: Int?

    @Option(name: .long, help: "Most decoder tokens per forward pass (default: what memory allows, as serve).")
    var tokenBudget: Int?

    @Option(name: .long, help: BackendSelection.gpuMemoryLimitHelp)
    var gpuMemoryLimitGib: Double?

    @Option(name: .long, help: BackendSelection.gpuWaitHelp)
    var gpuWait: HostWait?

    @Option(name: .long, help: "Dense bf16 peak in TFLOP/s for the utilisation figure (H100 measured: 790).")
    var peakTflops: Double = 790

    @Option(name: .long, help: "Write each workload's inputs (prompt token ids, BMP images) to this folder.")
    var dumpInputs: String?

    @Option(name: .long, help: "Write scores and timings as JSON to this file.")
    var scoresOut: String?

    @Option(
        name: .customLong("mlp-rows"),
        help: ArgumentHelp(
            "Most decoder rows each MLP works on at once, the vision chunk then at its standard 11,264 rows (default: the GPU's plan, 6144 where memory has room, else 2048; with 8-bit weights 8192, else 4096).",
            visibility: .hidden
        ))
    var mlpRows: Int?

    func validate() throws {
        guard warmups >= 0, (limitDocuments ?? 1) >= 1 else {
            throw ValidationError("--warmups must be >= 0 and --limit-documents >= 1")
        }
        try BackendSelection.validate(gpuMemoryLimitGiB: gpuMemoryLimitGib)
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        if let mlpRows, mlpRows < 1 { throw ValidationError("--mlp-rows must be at least 1, got \(mlpRows)") }
        for id in workloadIDs where !BenchWorkload.ids.contains(id) && !ServeWorkload.ids.contains(id) {
            throw ValidationError("--workload takes W1-W4, S1-S4 (comma-separated) or all; \(id) is none of them")
        }
        guard (prefixDeviceMib ?? 0) >= 0 else {
            throw ValidationError("--prefix-device-mib must be 0 or more, got \(prefixDeviceMib ?? 0)")
        }
        guard serveRequests >= 1, imageCacheMib >= 0, (tokenBudget ?? 1) >= 1 else {
            throw ValidationError(
                "--serve-requests and --token-budget must be at least 1, --image-cache-mib at least 0")
        }
    }

    /// The reranker's settings for the bench: its budget and both caches, and device copies of cached prefixes
    /// as `serve` would keep them.
    private func benchOptions(budget: Int, backend: any Backend, model: Qwen25VLModel) -> RerankerOptions {
        var options = RerankerOptions(
            tokenBudget: budget, imageCacheBytes: imageCacheMib << 20, prefixCacheBytes: prefixCacheMib << 20)
        options.devicePrefixCopyBytes = BackendSelection.prefixCopyBytes(
            requestedMiB: prefixDeviceMib, backend: backend, model: model, budget: budget)
        return options
    }

    func run() throws {
        let engine = try BackendSelection.make(backend, gpuMemoryLimitGiB: gpuMemoryLimitGib, hostWait: gpuWait)
        let precision = weightLoadingOptions.linearPrecision(on: engine)
        let loadStart = Date()
        let probe = try Reranker.load(
            modelDirectory: URL(fileURLWithPath: model), backend: engine,
            options: RerankerOptions(imageCacheBytes: imageCacheMib << 20),
            weightLoading: weightLoadingOptions.weightLoading,
            linearPrecision: precision,
            mlpRowChunks: mlpRows.map { MLPRowChunks(text: $0, vision: MLPRowChunks.standard.vision) })
        // Given a budget or row chunks, the bench keeps them; otherwise memory chooses both.
        let plan =
            tokenBudget.map { (budget: $0, chunks: probe.model.mlpRowChunks) }
            ?? BackendSelection.automaticPlan(
                backend: engine, dimensions: probe.model.dimensions, mlpRowChunks: probe.model.mlpRowChunks)
        let budget = plan.budget
        let planned = mlpRows == nil ? probe.model.withMLPRowChunks(plan.chunks) : probe.model
        let reranker = try imageBounds.apply(
            to: Reranker(
                model: planned, configuration: probe.configuration, tokenizer: probe.tokenizer,
                preprocessor: probe.preprocessor,
                options: benchOptions(budget: budget, backend: engine, model: planned)))
        let cuda = engine as? CUDABackend
        print("token budget: \(budget) per forward pass")
        print("MLP row chunks: \(planned.mlpRowChunks.text) decoder rows, \(planned.mlpRowChunks.vision) vision rows")
        print("linear layers: \(BackendSelection.describe(precision, on: engine))")
        if let cuda { print("attention: \(cuda.attentionDescription)") }
        try cuda?.synchronize()
        print(
            String(
                format: "loaded %@ on %@ in %.1f s", model, cuda.map { "\($0.device)" } ?? engine.name,
                Date().timeIntervalSince(loadStart)))
        if let stats = cuda?.memoryStatistics() {
            print(
                String(
                    format: "GPU memory after load: %.2f GiB in use (driver)",
                    Double(stats.currentDeviceUsedBytes) / 1_073_741_824))
        }
        let flops = ModelFlops(dimensions: reranker.model.dimensions)
        var reports = [BenchReport]()
        for id in workloadIDs where ServeWorkload.ids.contains(id) {
            let report = try measureServing(try ServeWorkload(id), reranker: reranker, cuda: cuda)
            print(report.line)
            reports.append(report)
        }
        for id in workloadIDs {
            guard var work = try BenchWorkload.make(id) else { continue }
            if let limitDocuments { work.limit(documents: limitDocuments) }
            if let dumpInputs {
                try BenchDump.write(work, reranker: reranker, folder: URL(fileURLWithPath: dumpInputs))
            }
            let report = try measure(work, reranker: reranker, cuda: cuda, flops: flops)
            print(report.line)
            reports.append(report)
        }
        print("\nworkload   docs    tokens   median s    docs/s   tokens/s    MFU   peak GPU GiB   peak live GiB")
        for report in reports { print(report.tableRow) }
        if let scoresOut {
            let data = try JSONEncoder().encode(Dictionary(uniqueKeysWithValues: reports.map { ($0.id, $0) }))
            try data.write(to: URL(fileURLWithPath: scoresOut))
        }
    }

    /// A serving mix offline: `--serve-requests` of its requests scored one after another (the engine's
    /// figure that `bench-serve` compares the server with).
    private func measureServing(_ mix: ServeWorkload, reranker: Reranker, cuda: CUDABackend?) throws -> BenchReport {
        cuda?.resetPeakMemory()
        let requests = (0..<serveRequests).map { mix.request($0).items }
        func runAll() throws -> [RerankResult] {
            try requests.flatMap { try reranker.score(query: $0.query, documents: $0.documents) }
        }
        var results = [RerankResult]()
        for _ in 0..<warmups { results = try runAll() }
        var times = [Double]()
        for _ in 0..<repeats {
            let start = Date()
            results = try runAll()
            try cuda?.synchronize()
            times.append(Date().timeIntervalSince(start))
        }
        let median = times.sorted()[times.count / 2]
        let tokens = results.map(\.tokens).reduce(0, +)
        let memory = cuda?.memoryStatistics()
        return BenchReport(
            id: mix.id, title: "serving mix \(mix.id), \(serveRequests) requests one after another",
            documents: results.count,
            tokens: tokens, seconds: median, allSeconds: times, prepareSeconds: 0,
            docsPerSecond: Double(results.count) / median, tokensPerSecond: Double(tokens) / median, mfu: 0,
            peakGPUGiB: memory.map { Double($0.peakDeviceUsedBytes) / 1_073_741_824 },
            peakLiveGiB: memory.map { Double($0.peakLiveBytes) / 1_073_741_824 }, logits: [], promptTokens: [])
    }

    private func measure(_ work: BenchWorkload, reranker: Reranker, cuda: CUDABackend?, flops: ModelFlops) throws
        -> BenchReport
    {
        cuda?.resetPeakMemory()
        var results = [RerankResult]()
        for _ in 0..<warmups { results = try reranker.score(query: work.query, documents: work.documents) }
        var times = [Double]()
        for _ in 0..<repeats {
            let start = Date()
            results = try reranker.score(query: work.query, documents: work.documents)
            try cuda?.synchronize()
            times.append(Date().timeIntervalSince(start))
        }
        let median = times.sorted()[times.count / 2]
        let profiles = Set((ProcessInfo.processInfo.environment["LYCHEE_PROFILE"] ?? "").split(separator: ","))
        if let cuda, profiles.contains("timeline") {
            // A separate pass as the timed ones run (nothing waits), with an event on the stream around each op.
            cuda.timeline = true
            let start = Date()
            _ = try reranker.score(query: work.query, documents: work.documents)
            try cuda.synchronize()
            let seconds = Date().timeIntervalSince(start)
            let table = try cuda.timelineTable()
            print(
                String(
                    format: "\n%@ timeline (the device's side of an unsynchronised pass; pass took %.3f s):", work.id,
                    seconds))
            print(table)
            cuda.timeline = false
        }
        if let cuda, profiles.contains("1") {
            // A separate, synchronising pass: the timed figures above are unaffected.
            cuda.profiling = true
            let start = Date()
            _ = try reranker.score(query: work.query, documents: work.documents)
            try cuda.synchronize()
            print(
                String(
                    format: "\n%@ profile (every op synchronised; pass took %.3f s):", work.id,
                    Date().timeIntervalSince(start)))
            print(cuda.profileTable())
            cuda.profiling = false
        }
        // Host-side share: tokenizing, image preprocessing and the query image's embedding, alone.
        let prepareStart = Date()
        _ = try reranker.preparePairs(query: work.query, documents: work.documents)
        try cuda?.synchronize()
        let prepareSeconds = Date().timeIntervalSince(prepareStart)
        let tokens = results.map(\.tokens).reduce(0, +)
        let visionFlops = try work.images.map {
            flops.vision(patches: try reranker.preprocessor.process($0).grid.patchCount)
        }
        let modelFlops = Double(tokens) * flops.decoderPerToken + visionFlops.reduce(0, +)
        let memory = cuda?.memoryStatistics()
        let peak = memory.map { Double($0.peakDeviceUsedBytes) / 1_073_741_824 }
        return BenchReport(
            id: work.id, title: work.title, documents: work.documents.count, tokens: tokens, seconds: median,
            allSeconds: times, prepareSeconds: prepareSeconds, docsPerSecond: Double(work.documents.count) / median,
            tokensPerSecond: Double(tokens) / median, mfu: modelFlops / median / (peakTflops * 1e12),
            peakGPUGiB: peak, peakLiveGiB: memory.map { Double($0.peakLiveBytes) / 1_073_741_824 },
            logits: results.sorted { $0.index < $1.index }.map(\.logit),
            promptTokens: results.sorted { $0.index < $1.index }.map(\.tokens))
    }
}

/// One workload's figures.
struct BenchReport: Codable {
    var id, title: String
    var documents, tokens: Int
    var seconds: Double
    var allSeconds: [Double]
    /// One run of `preparePairs` alone (prompts, image preprocessing, query image embedding).
    var prepareSeconds: Double
    var docsPerSecond, tokensPerSecond, mfu: Double
    var peakGPUGiB: Double?
    /// Most bytes the backend had live at once (weights and activations, without the pool's free ranges).
    var peakLiveGiB: Double?
    var logits: [Double]
    var promptTokens: [Int]

    var line: String {
        String(
            format: "%@ (%@): %.3f s median of %@; preparing the pairs alone %.3f s", id, title, seconds,
            allSeconds.map { String(format: "%.3f", $0) }.joined(separator: ", "), prepareSeconds)
    }

    var tableRow: String {
        String(
            format: "%-8@ %6d %9d %10.3f %9.1f %10.0f %5.1f%% %14@ %15@", id, documents, tokens, seconds, docsPerSecond,
            tokensPerSecond, mfu * 100, peakGPUGiB.map { String(format: "%.2f", $0) } ?? "-",
            peakLiveGiB.map { String(format: "%.2f", $0) } ?? "-")
    }
}

/// Matrix FLOPs of the model from its sizes.
struct ModelFlops {
    var decoderPerToken: Double
    let dims: ModelDimensions

    init(dimensions: ModelDimensions) {
        dims = dimensions
        decoderPerToken = dimensions.text.matmulFlopsPerToken
    }

    /// Vision tower FLOPs for one image of `patches` patches (patch embedding, blocks, merger).
    func vision(patches: Int) -> Double {
        let v = dims.vision
        let h = Double(v.hiddenSize), i = Double(v.intermediateSize), p = Double(patches)
        let blocks = Double(v.depth) * (4 * h * h + 3 * h * i)
        let merged = Double(v.mergeUnit) * h
        let merger = (merged * merged + merged * Double(v.outHiddenSize)) / Double(v.mergeUnit)
        return 2 * p * (Double(v.patchInputSize) * h + blocks + merger)
    }
}

/// Writes a workload's exact prompt token ids and images for the transformers reference.
enum BenchDump {
    struct Pair: Codable { var tokenIDs: [Int32]; var images: [String] }
    /// Our preprocessed pixels of an image: `<name>.pixels.f32` (little-endian fp32, patches x 1176) and its grid.
    struct Pixels: Codable { var file: String; var grid: [Int] }
    struct Workload: Codable { var id: String; var pairs: [Pair]; var pixels: [String: Pixels] }

    static func write(_ work: BenchWorkload, reranker: Reranker, folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let builder = try PromptBuilder(
            tokenizer: reranker.tokenizer, maxLength: reranker.options.maxLength,
            spatialMergeSize: reranker.configuration.vision.spatialMergeSize)
        func grid(_ image: RGBImage) throws -> VisionGrid { try reranker.preprocessor.process(image).grid }
        var names = [String]()
        var pixels = [String: Pixels]()
        for (index, image) in work.images.enumerated() {
            let name = "\(work.id)-image\(index).bmp"
            try BMPWriter.encode(image).write(to: folder.appendingPathComponent(name))
            names.append(name)
            let processed = try reranker.preprocessor.process(image)
            let file = name + ".pixels.f32"
            try processed.pixelValues().withUnsafeBytes { Data($0) }.write(to: folder.appendingPathComponent(file))
            pixels[name] = Pixels(file: file, grid: [processed.grid.t, processed.grid.h, processed.grid.w])
        }
        let queryHasImage = work.query.image != nil
        let queryImage = queryHasImage ? work.images[0] : nil
        let querySegment = PromptSegment(text: work.query.text, images: try queryImage.map { [try grid($0)] } ?? [])
        var nextImage = queryHasImage ? 1 : 0
        var pairs = [Pair]()
        for document in work.documents {
            var images = queryHasImage ? [names[0]] : []
            var grids = [VisionGrid]()
            if document.image != nil {
                grids = [try grid(work.images[nextImage])]
                images.append(names[nextImage])
                nextImage += 1
            }
            let prompt = try builder.encode(
                query: querySegment, document: PromptSegment(text: document.text, images: grids))
            pairs.append(Pair(tokenIDs: prompt.tokenIDs, images: images))
        }
        let data = try JSONEncoder().encode(Workload(id: work.id, pairs: pairs, pixels: pixels))
        try data.write(to: folder.appendingPathComponent("\(work.id).json"))
    }
}
