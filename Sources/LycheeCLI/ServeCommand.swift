import ArgumentParser
import CPUBackend
import CUDABackend
import Foundation
import Hummingbird
import Logging
import RerankServer
import Reranker
import ServiceLifecycle
import TensorKit

/// `lychee-rerank serve --model DIR`: the HTTP API and the web page.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the rerank API (/v1/rerank, /v2/rerank), the web page (/) and metrics over HTTP.",
        discussion: """
            SIGTERM or SIGINT stops accepting connections and finishes the requests in flight; after \
            --shutdown-timeout the connections still open are closed and the process exits. A second \
            signal exits at once. At start the soft limit on open files is raised to the hard limit. \
            On the CPU backend the weights are memory-mapped from the safetensors files: do not truncate or \
            rewrite them while the server runs, or give --no-mmap to read them into memory.
            API documentation: GET /docs once the server runs.
            """
    )

    /// Where the model runs.
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var weightLoadingOptions: WeightLoadingOptions
    /// How large images are made.
    @OptionGroup var imageBounds: ImageBoundsOptions
    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on.")
    var port = 7860
    @Option(name: .long, help: "Where the model runs: auto, cpu or cuda.")
    var backend = BackendChoice.auto
    @Option(
        name: .long,
        help: ArgumentHelp(
            "GPUs to serve on: all, or device numbers such as 0,1 (one engine per GPU, one scheduler).",
            discussion: "Implies --backend cuda; --gpu-memory-limit-gib applies to each GPU."))
    var gpus: String?
    @Option(name: .long, help: BackendSelection.gpuMemoryLimitHelp)
    var gpuMemoryLimitGib: Double?

    @Option(name: .long, help: BackendSelection.gpuWaitHelp)
    var gpuWait: HostWait?
    @Option(name: .long, help: "Requests worked on at once; more wait in line.")
    var maxConcurrent = 64
    @Option(name: .long, help: "Requests allowed to wait in line; beyond, the server answers 429 with Retry-After.")
    var maxWaiting = 256
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Most decoder tokens packed into one forward pass (pairs of many requests share it).",
            discussion: "Default: what memory allows (on CUDA, what is left after the weights under "
                + "--gpu-memory-limit-gib), at most 16384 on a GPU; about a second of work on the CPU."))
    var tokenBudget: Int?
    @Option(name: .long, help: "Host memory in MiB for vision-tower outputs of images seen before (0 disables).")
    var imageCacheMib: Int?
    @Option(name: .long, help: "Host memory in MiB for prompt prefixes' keys and values seen before (0 disables).")
    var prefixCacheMib: Int?
    @Option(name: .long, help: BackendSelection.prefixCopyHelp)
    var prefixDeviceMib: Int?
    @Option(name: .long, help: "Seconds a request may take; beyond, 504 and its pending work is dropped.")
    var requestTimeout: Double = 60
    @Option(name: .long, help: "Most megapixels all images of one request may decode to together.")
    var maxRequestMegapixels = 256
    @Option(name: .long, help: "Longest prompt in tokens; longer document texts are cut (results say truncated).")
    var maxLength = 3200
    @Option(name: .long, help: "Most documents in one request.")
    var maxDocuments = 256
    @Option(name: .long, help: "Largest request body in MiB (images travel base64 in the body).")
    var maxBodyMib = 32
    @Option(
        name: .long, help: "Require Authorization: Bearer KEY on every route but /health (default: $LYCHEE_API_KEY).")
    var apiKey: String?
    @Option(name: .long, help: "Allow CORS from this origin (repeat for several; * for any).")
    var corsOrigin: [String] = []
    @Option(name: .long, help: "Fetch image URLs from this host (repeat for several). Off when not given.")
    var allowImageHost: [String] = []
    @Option(name: .long, help: "Largest fetched image in MiB.")
    var maxImageMib = 10
    @Option(name: .long, help: "Seconds a connection may wait, silent, for its next request before it is closed.")
    var idleTimeout = 60.0
    @Option(name: .long, help: "Seconds a request's line and headers may take to arrive (then 408, connection closed).")
    var headerTimeout = 15.0
    @Option(name: .long, help: "Seconds a request's body may take to arrive (then 408, connection closed).")
    var bodyTimeout = 60.0
    @Option(name: .long, help: "Seconds in-flight requests get after SIGTERM/SIGINT; then open connections are closed.")
    var shutdownTimeout = 30.0
    @Option(name: .long, help: "Log format: text or json (one JSON object per line).")
    var logFormat = "text"
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        for (name, value) in [
            ("--max-concurrent", maxConcurrent), ("--token-budget", tokenBudget ?? 1), ("--max-length", maxLength),
            ("--max-request-megapixels", maxRequestMegapixels),
            ("--max-documents", maxDocuments), ("--max-body-mib", maxBodyMib), ("--max-image-mib", maxImageMib),
        ] where value < 1 {
            throw ValidationError("\(name) must be at least 1, got \(value)")
        }
        for (name, value) in [
            ("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout),
            ("--shutdown-timeout", shutdownTimeout),
        ] where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(name) must be more than 0 and at most 86400 seconds, got \(value)")
        }
        try BackendSelection.validate(gpuMemoryLimitGiB: gpuMemoryLimitGib)
        guard requestTimeout > 0, requestTimeout.isFinite else {
            throw ValidationError("--request-timeout must be a positive number of seconds, got \(requestTimeout)")
        }
        for (name, value) in [
            ("--image-cache-mib", imageCacheMib), ("--prefix-cache-mib", prefixCacheMib),
            ("--prefix-device-mib", prefixDeviceMib),
        ] {
            if let value, value < 0 { throw ValidationError("\(name) must be 0 or more, got \(value)") }
        }
        guard maxWaiting >= 0 else { throw ValidationError("--max-waiting must be 0 or more, got \(maxWaiting)") }
        guard ["text", "json"].contains(logFormat) else {
            throw ValidationError("--log-format must be text or json, got \(logFormat)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "lychee-rerank")
        if let limit = DescriptorLimit.raiseSoftToHard(), limit.softAfter != limit.softBefore {
            logger.info(
                "raised the open-file limit", metadata: ["from": "\(limit.softBefore)", "to": "\(limit.softAfter)"])
        }
        // Fail before loading the model (minutes for the 7B) when the port is taken.
        try await ListenCheck.requireAvailable(host: host, port: port)

        let directory = try await modelOptions.resolve()
        let backends: [any Backend]
        if let gpus {
            backends = try BackendSelection.gpus(gpus, gpuMemoryLimitGiB: gpuMemoryLimitGib, hostWait: gpuWait)
        } else {
            backends = [
                try BackendSelection.make(backend, gpuMemoryLimitGiB: gpuMemoryLimitGib, hostWait: gpuWait) {
                    logger.notice("\($0)")
                }
            ]
        }
        let chosen = backends[0]
        logger.info("loading model", metadata: ["model": "\(directory.path)", "backend": "\(chosen.name)"])
        let started = ContinuousClock.now
        // Both caches live in host memory: by default a sixteenth of RAM each, at most 2 GiB.
        let defaultCacheBytes = min(2 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory) / 16)
        let cacheBytes = imageCacheMib.map { $0 << 20 } ?? defaultCacheBytes
        let prefixBytes = prefixCacheMib.map { $0 << 20 } ?? defaultCacheBytes
        var options = RerankerOptions(maxLength: maxLength, imageCacheBytes: cacheBytes, prefixCacheBytes: prefixBytes)
        options.maxRequestDecodedPixels = maxRequestMegapixels * 1_000_000
        let precision = weightLoadingOptions.linearPrecision(on: chosen) { logger.notice("\($0)") }
        logger.info("linear layers", metadata: ["precision": "\(BackendSelection.describe(precision, on: chosen))"])
        if let cuda = chosen as? CUDABackend {
            logger.info("attention", metadata: ["kernels": "\(cuda.attentionDescription)"])
        }
        let reranker = try imageBounds.apply(
            to: Reranker.load(
                modelDirectory: directory, backend: chosen, options: options,
                weightLoading: weightLoadingOptions.weightLoading, linearPrecision: precision))
        // The other GPUs get their own copy of the weights; tokenizer, settings and caches are shared.
        var rerankers = [reranker]
        for other in backends.dropFirst() {
            let copy = try Reranker.load(
                modelDirectory: directory, backend: other, options: options,
                weightLoading: weightLoadingOptions.weightLoading,
                linearPrecision: weightLoadingOptions.linearPrecision(on: other) { logger.notice("\($0)") })
            rerankers.append(try reranker.replica(on: copy.model))
        }
        let budget: Int
        var chunks = rerankers.map(\.model.mlpRowChunks)
        if let tokenBudget {
            budget = tokenBudget
        } else {
            let plans = zip(backends, rerankers).map {
                BackendSelection.automaticPlan(
                    backend: $0, dimensions: $1.model.dimensions, mlpRowChunks: $1.model.mlpRowChunks)
            }
            budget = plans.map(\.budget).min() ?? 4096
            // Each engine's MLP row chunks fit its own budget, which is at least the one all engines share.
            chunks = plans.map(\.chunks)
        }
        // Each engine runs with its chunks and keeps copies of cached prefixes on its device within what its
        // passes leave free.
        rerankers = try zip(rerankers, zip(backends, chunks)).map { reranker, engine in
            let model = reranker.model.withMLPRowChunks(engine.1)
            return try reranker.replica(
                on: model,
                devicePrefixCopyBytes: BackendSelection.prefixCopyBytes(
                    requestedMiB: prefixDeviceMib, backend: engine.0, model: model, budget: budget))
        }
        logger.info(
            "model loaded",
            metadata: [
                "seconds": "\(ContinuousClock.now - started)", "token_budget": "\(budget)",
                "engines": "\(backends.count)",
                "mlp_rows": "\(rerankers[0].model.mlpRowChunks.text)",
                "image_cache_mib": "\(cacheBytes >> 20)", "prefix_cache_mib": "\(prefixBytes >> 20)",
                "prefix_device_mib": "\(rerankers[0].prefixCopies.capacityBytes >> 20)",
            ])

        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxConcurrent = maxConcurrent
        configuration.maxWaiting = maxWaiting
        configuration.maxDocuments = maxDocuments
        configuration.maxBodyBytes = maxBodyMib << 20
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["LYCHEE_API_KEY"]
        configuration.corsOrigins = corsOrigin
        configuration.tokenBudget = budget
        configuration.requestTimeoutSeconds = requestTimeout
        if let hook = ProcessInfo.processInfo.environment["LYCHEE_TEST_FAIL_ENGINE"] {
            let parts = hook.split(separator: ":").compactMap { Int($0) }
            guard parts.count == 2 else {
                throw ValidationError("LYCHEE_TEST_FAIL_ENGINE must be ENGINE:PASSES (e.g. 1:20), got \(hook)")
            }
            configuration.failEngineAfterPasses = (parts[0], parts[1])
            logger.warning("test hook: engine \(parts[0]) will fail every pass after its first \(parts[1])")
        }
        configuration.idleTimeout = .seconds(idleTimeout)
        configuration.headerTimeout = .seconds(headerTimeout)
        configuration.bodyTimeout = .seconds(bodyTimeout)
        var services = [any Service]()
        if !allowImageHost.isEmpty {
            let transport = HTTPImageTransport()
            services.append(transport)
            configuration.imageFetcher = ImageURLFetcher(
                policy: ImageURLPolicy(allowedHosts: Set(allowImageHost), maxBytes: maxImageMib << 20),
                resolver: SystemHostResolver(), transport: transport)
        }
        // A model id names itself; a folder by its last component (a cache snapshot folder is a commit hash).
        let modelName =
            FileManager.default.fileExists(atPath: modelOptions.model)
            ? directory.standardizedFileURL.lastPathComponent : modelOptions.model
        let engines = rerankers.map { RerankerEngine(reranker: $0, modelName: modelName) }
        let (application, parts) = try buildApplication(
            engines: engines, configuration: configuration, logger: logger, warmUp: standardWarmUp,
            extraServices: services,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? port
                logger.info("serving", metadata: ["url": "http://\(host):\(port)/"])
            })
        let watchdog = ShutdownWatchdog(
            timeout: .seconds(shutdownTimeout), connections: parts.connections, logger: logger
        ).start()
        defer { watchdog.cancel() }
        try await application.runService()
        logger.info("stopped: in-flight requests finished")
    }
}
