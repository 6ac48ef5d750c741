import Foundation
import Logging
import Qwen25VL
import Reranker
import ServiceLifecycle
import TensorKit

/// Continuous batching: forms each forward pass from the pairs of every waiting request, up to a token
/// budget, so that passes grow with load and throughput with concurrency.
///
/// - One policy: pairs are charged with ``BatchCost`` (a prompt prefix shared by pairs of one query counts
///   once per pass), the same accounting the CLI's planner uses.
/// - Fairness: requests are served least-recently-served first, so no request waits behind more than one
///   pass of another request's pairs (a 2-document request is never stuck behind a 64-image one).
/// - Isolation: when a pass fails, each of its requests is scored again on its own, and only a request
///   that fails alone gets the error; a pair with a non-finite score fails only its request.
/// - Cancellation: a cancelled task (client gone, request timeout) drops its pending pairs at once.
/// - No retention: pairs (their pixels and tokens) are released as soon as their pass is scored.
/// - Several engines (one per GPU): each pass goes to the first idle engine. An engine whose passes fail
///   twice in a row while another engine is healthy is taken out of rotation (logged, shown in `/health`
///   and `/metrics`), and its pass's pairs go back to the queue to run elsewhere.
///
/// It is a service: it warms the engine up when it starts (``isReady`` turns true), and on graceful
/// shutdown it finishes every queued pair before returning.
public actor PairScheduler<Engine: RerankEngine>: Service {
    private struct WaitingRequest {
        /// Pairs not yet handed to a pass, by position in the request, with the passes they already failed in.
        var pending: [(slot: Int, pair: ScoringPair, attempts: Int)]
        var results: [RerankResult?]
        var remaining: Int
        var continuation: CheckedContinuation<[RerankResult], any Error>
        /// The pass that last took pairs of this request (for fairness).
        var lastServed: Int
        let arrival: Int
        /// When the request's pairs were queued, until a pass first takes some of them (then nil).
        var waitingSince: ContinuousClock.Instant?
    }

    /// The first engine (every engine serves the same model; preparation runs through it).
    nonisolated let engine: Engine
    /// Every engine, each with its own thread and health.
    private let engines: [EngineSlot]
    /// Images the vision tower embedded on every engine so far.
    nonisolated var imagesEmbedded: Int { engines.reduce(0) { $0 + $1.engine.imagesEmbedded } }
    /// The device copies of cached prefixes, summed over every engine.
    nonisolated var prefixCopies: DevicePrefixCopies.Statistics {
        engines.compactMap { $0.engine.prefixCopies?.snapshot() }.reduce(DevicePrefixCopies.Statistics()) {
            $0.adding($1)
        }
    }
    /// Most decoder tokens in one pass.
    public let tokenBudget: Int
    /// Runs request preparation (tokenizing, image decoding and preprocessing), one thread per core.
    private let preparers: WorkerPool
    private let metrics: ServerMetrics
    private let logger: Logger
    private let warmUp: (@Sendable (Engine) throws -> Void)?

    private var requests = [Int: WaitingRequest]()
    private var nextRequest = 0
    private var passesStarted = 0
    private var queuedPairCount = 0
    /// Prompt tokens of the queued pairs (shared prefixes counted in full: an upper bound of their cost).
    private var queuedTokenCount = 0
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var stopping = false
    /// Engines ready for a pass, in order.
    private var idle = [Int]()
    /// Passes running now.
    private var running = 0
    private var healthy: [Bool]
    private var consecutiveFailures: [Int]
    private var passesRun: [Int]
    /// See ``ServerConfiguration/failEngineAfterPasses``.
    private let failEngineAfterPasses: (engine: Int, passes: Int)?

    /// Whether the engine has been warmed up and takes requests.
    public private(set) var isReady = false

    /// One engine and the thread it runs on.
    private struct EngineSlot: Sendable {
        let engine: Engine
        let thread: WorkerPool
    }

    /// A scheduler over `engines` (at least one; one per GPU); `warmUp` runs once on each engine's thread
    /// before it takes passes. ``isReady`` turns true once one engine is warm.
    /// - Parameter preparationThreads: threads preparing requests (default: one per core).
    public init(
        engines: [Engine], tokenBudget: Int, metrics: ServerMetrics, logger: Logger,
        preparationThreads: Int = ProcessInfo.processInfo.activeProcessorCount,
        warmUp: (@Sendable (Engine) throws -> Void)? = nil, failEngineAfterPasses: (engine: Int, passes: Int)? = nil
    ) {
        precondition(!engines.isEmpty, "a scheduler needs an engine")
        self.failEngineAfterPasses = failEngineAfterPasses
        self.passesRun = Array(repeating: 0, count: engines.count)
        self.engine = engines[0]
        self.engines = engines.enumerated().map {
            EngineSlot(engine: $0.element, thread: WorkerPool(name: "lychee-engine-\($0.offset)", size: 1))
        }
        self.healthy = Array(repeating: false, count: engines.count)
        self.consecutiveFailures = Array(repeating: 0, count: engines.count)
        self.tokenBudget = max(1, tokenBudget)
        self.metrics = metrics
        self.logger = logger
        self.warmUp = warmUp
        self.preparers = WorkerPool(name: "lychee-prepare", size: preparationThreads)
    }

    /// A scheduler over one engine.
    public init(
        engine: Engine, tokenBudget: Int, metrics: ServerMetrics, logger: Logger,
        preparationThreads: Int = ProcessInfo.processInfo.activeProcessorCount,
        warmUp: (@Sendable (Engine) throws -> Void)? = nil
    ) {
        self.init(
            engines: [engine], tokenBudget: tokenBudget, metrics: metrics, logger: logger,
            preparationThreads: preparationThreads, warmUp: warmUp)
    }

    /// Each engine's state, for `/health`.
    public var engineStates: [EngineState] {
        engines.indices.map { index in
            EngineState(
                index: index, device: engines[index].engine.deviceDescription, healthy: healthy[index],
                busy: !idle.contains(index) && healthy[index])
        }
    }

    /// Prepares one request's pairs on the preparation pool (off the event loops and the concurrency pool).
    ///
    /// A request whose image documents ``Reranker/preparationWaves(documentCount:imageDocuments:)`` splits
    /// into two parts is prepared part by part: the query and the first part, then the rest while the engine
    /// embeds the first part's images (``embedAheadIfIdle(_:)``), as `Reranker.score` does on its own device.
    /// With several engines a request is prepared whole: each pass goes to whichever engine is idle, and rows
    /// embedded ahead stay on the device that made them.
    nonisolated func prepare(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) async throws -> [ScoringPair] {
        let engine = self.engine
        let imageDocuments = documents.count { $0.image != nil }
        let parts = Reranker.preparationWaves(documentCount: documents.count, imageDocuments: imageDocuments)
        guard engines.count == 1, imageDocuments > 0, parts.count == 2 else {
            return try await preparers.run {
                try engine.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
            }
        }
        let prepared = try await preparers.run {
            try engine.prepareQuery(query, instruction: instruction, options: options)
        }
        let first = try await preparers.run { try engine.preparePairs(prepared, documents: documents[parts[0]]) }
        async let rest = preparers.run { try engine.preparePairs(prepared, documents: documents[parts[1]]) }
        await embedAheadIfIdle(first.flatMap(\.images))
        return first + (try await rest)
    }

    /// Runs `images` through the vision tower now, if the one engine is idle with no pair queued: a lone
    /// request's first images are embedded while its other documents are prepared. Under load it does
    /// nothing (the passes embed images, batched with other requests'). The engine counts as running
    /// meanwhile, so no pass starts on it; a failure leaves the images to the pass, which reports it.
    func embedAheadIfIdle(_ images: [PreparedImage]) async {
        guard !images.isEmpty, !stopping, engines.count == 1, running == 0, queuedPairCount == 0,
            let index = idle.first, healthy[index]
        else { return }
        takeIdleEngine()
        defer { handBack(index) }
        let slot = engines[index]
        do {
            let embedded = try await slot.thread.run { try slot.engine.embedAhead(images) }
            metrics.imagesEmbeddedAhead.increment(by: embedded)
        } catch {
            logger.warning(
                "embedding images ahead failed; their pass embeds them",
                metadata: ["engine": "\(index)", "error": "\(error)"])
        }
    }

    /// Pairs waiting to be scored.
    public var queuedPairs: Int { queuedPairCount }

    /// Requests with pairs waiting or in a pass.
    public var activeRequests: Int { requests.count }

    /// Scores `pairs` (one request's), sharing passes with other requests' pairs.
    ///
    /// Cancelling the calling task drops the request's pairs not yet in a pass and throws
    /// `ServerError.cancelled`.
    /// - Returns: the results in the pairs' order.
    public func score(_ pairs: consuming [ScoringPair]) async throws -> [RerankResult] {
        guard !pairs.isEmpty else { return [] }
        guard !stopping else { throw ServerError.shuttingDown }
        try Task.checkCancellation()
        let id = nextRequest
        nextRequest += 1
        let entries = pairs.enumerated().map { (slot: $0.offset, pair: $0.element, attempts: 0) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enqueue(id, entries, continuation)
            }
        } onCancel: {
            Task { await self.fail(id, ServerError.cancelled) }
        }
    }

    private func enqueue(
        _ id: Int, _ entries: [(slot: Int, pair: ScoringPair, attempts: Int)],
        _ continuation: CheckedContinuation<[RerankResult], any Error>
    ) {
        // Never served: ranks ahead of the requests the running pass serves (see `takePass`).
        requests[id] = WaitingRequest(
            pending: entries, results: Array(repeating: nil, count: entries.count), remaining: entries.count,
            continuation: continuation, lastServed: passesStarted - 2, arrival: id, waitingSince: .now)
        queuedPairCount += entries.count
        queuedTokenCount += entries.reduce(0) { $0 + $1.pair.tokenCount }
        metrics.queuedPairs.record(queuedPairCount)
        wakeUp?.resume()
        wakeUp = nil
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for index in engines.indices {
                group.addTask { await self.warm(index) }
            }
        }
        guard healthy.contains(true) else {
            throw ServerError.model("no engine could be warmed up; see the log for each engine's error")
        }
        isReady = true
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: {
            Task { await self.beginStopping() }
        }
        for slot in engines { slot.thread.stop() }
        preparers.stop()
    }

    /// Warms engine `index` up; it joins the rotation when that works.
    private func warm(_ index: Int) async {
        let slot = engines[index]
        if let warmUp {
            let started = ContinuousClock.now
            do {
                try await slot.thread.run { try warmUp(slot.engine) }
            } catch {
                logger.error("engine failed to warm up", metadata: ["engine": "\(index)", "error": "\(error)"])
                metrics.recordEngine(index, healthy: false)
                return
            }
            logger.info(
                "engine warmed up", metadata: ["engine": "\(index)", "seconds": "\(ContinuousClock.now - started)"])
        }
        healthy[index] = true
        idle.append(index)
        metrics.recordEngine(index, healthy: true)
        wakeUp?.resume()
        wakeUp = nil
    }

    // MARK: The loop

    private func beginStopping() {
        stopping = true
        wakeUp?.resume()
        wakeUp = nil
    }

    private func loop() async {
        // Discarding: a finished pass leaves nothing behind in the group.
        await withDiscardingTaskGroup { passes in
            while true {
                // With a pass already running elsewhere, wait until a full pass is queued: small passes on
                // several engines would cost more than they gain (an idle engine with nothing running always
                // starts at once).
                if queuedPairCount > 0, let engine = idle.first, running == 0 || queuedTokenCount >= tokenBudget {
                    takeIdleEngine()
                    let pass = takePass()
                    passes.addTask { await self.execute(pass, on: engine) }
                    continue
                }
                if stopping && queuedPairCount == 0 && running == 0 { return }
                await withCheckedContinuation { wakeUp = $0 }
            }
        }
    }

    /// One pair of a pass and whose it is.
    private struct PassEntry {
        var request: Int
        var slot: Int
        var pair: ScoringPair
        var attempts: Int
    }

    /// Fills a pass up to the token budget, least-recently-served request first (then oldest first): a
    /// request that arrived while the previous pass ran goes before the requests that pass served.
    private func takePass() -> [PassEntry] {
        let pass = passesStarted
        passesStarted += 1
        var cost = BatchCost()
        var entries = [PassEntry]()
        let order = requests.filter { !$0.value.pending.isEmpty }
            .sorted { ($0.value.lastServed, $0.value.arrival) < ($1.value.lastServed, $1.value.arrival) }
            .map(\.key)
        for id in order {
            guard cost.tokens < tokenBudget, var request = requests[id] else { break }
            var kept = [(slot: Int, pair: ScoringPair, attempts: Int)]()
            for entry in request.pending {
                if cost.fits(entry.pair, budget: tokenBudget) {
                    cost.add(entry.pair)
                    entries.append(PassEntry(request: id, slot: entry.slot, pair: entry.pair, attempts: entry.attempts))
                } else {
                    kept.append(entry)
                }
            }
            if kept.count < request.pending.count {
                request.lastServed = pass
                if let since = request.waitingSince {
                    metrics.recordStage(.queue, ContinuousClock.now - since)
                    request.waitingSince = nil
                }
            }
            request.pending = kept
            requests[id] = request
        }
        queuedPairCount -= entries.count
        queuedTokenCount -= entries.reduce(0) { $0 + $1.pair.tokenCount }
        metrics.queuedPairs.record(queuedPairCount)
        metrics.batchPairs.record(entries.count)
        metrics.batchTokens.record(cost.tokens)
        return entries
    }

    /// Takes the first idle engine for a pass or for embedding ahead: it counts as running until ``handBack(_:)``.
    private func takeIdleEngine() {
        idle.removeFirst()
        running += 1
    }

    /// Returns engine `index` to the idle ones (unless it was taken out of rotation meanwhile) and wakes the loop.
    private func handBack(_ index: Int) {
        running -= 1
        if healthy[index] { idle.append(index) }
        wakeUp?.resume()
        wakeUp = nil
    }

    /// Runs a pass on engine `index`, then hands the engine back (or takes it out of rotation).
    private func execute(_ pass: [PassEntry], on index: Int) async {
        defer { handBack(index) }
        let started = ContinuousClock.now
        let outcome = await run(pass.map(\.pair), on: index)
        let elapsed = ContinuousClock.now - started
        metrics.engineSeconds.recordNanoseconds(elapsed.nanoseconds)
        metrics.recordEnginePass(index, seconds: Double(elapsed.nanoseconds) / 1e9, failed: outcome.isFailure)
        switch outcome {
        case .success(let results):
            consecutiveFailures[index] = 0
            metrics.tokensScored.increment(by: pass.reduce(0) { $0 + $1.pair.tokenCount })
            logger.debug(
                "engine call",
                metadata: [
                    "engine": "\(index)", "pairs": "\(pass.count)", "requests": "\(Set(pass.map(\.request)).count)",
                ])
            for (entry, result) in zip(pass, results) { deliver(result, to: entry) }
            cacheEmbeddedImages(on: index)
        case .failure(let error):
            // Out of device memory even pair by pair (the reranker halves a pass down to single pairs first):
            // that request is too large for the memory left, the engine is fine. Only its request fails.
            if let memory = error as? any DeviceMemoryError, memory.isOutOfDeviceMemory {
                await isolate(pass, on: index, error: error)
                return
            }
            consecutiveFailures[index] += 1
            let others = healthy.indices.contains { $0 != index && healthy[$0] }
            if others && consecutiveFailures[index] >= 2 {
                healthy[index] = false
                metrics.recordEngine(index, healthy: false)
                logger.error(
                    "engine taken out of rotation after failing twice in a row; serving on the others",
                    metadata: ["engine": "\(index)", "error": "\(error)"])
            }
            // Another healthy engine: the pass's pairs go back to the queue to run elsewhere (at most once per
            // engine; a failing engine leaves the rotation after two failures in a row).
            if others && pass.allSatisfy({ $0.attempts < engines.count }) {
                logger.warning(
                    "pass failed; its pairs go back to the queue",
                    metadata: ["engine": "\(index)", "error": "\(error)"])
                requeue(pass)
                return
            }
            await isolate(pass, on: index, error: error)
        }
    }

    /// Queues the hand-over of the images engine `index` embedded to the image cache on the preparation pool,
    /// once their requests have their answers: their copies to the host were started behind the vision tower
    /// and the hand-over only waits for them and stores them, so the engine goes on with its next pass at once.
    /// A failure loses only those cache entries.
    private func cacheEmbeddedImages(on index: Int) {
        let slot = engines[index]
        let logger = logger
        preparers.submit {
            do {
                _ = try slot.engine.cacheEmbeddedImages()
            } catch {
                logger.warning(
                    "could not keep the pass's images in the image cache",
                    metadata: ["engine": "\(index)", "error": "\(error)"])
            }
        }
    }

    /// Puts a failed pass's pairs back at the front of their requests, to be taken by the next pass.
    private func requeue(_ pass: [PassEntry]) {
        for (request, entries) in Dictionary(grouping: pass, by: \.request) {
            guard var waiting = requests[request] else { continue }
            waiting.pending.insert(contentsOf: entries.map { ($0.slot, $0.pair, $0.attempts + 1) }, at: 0)
            waiting.lastServed = Int.min
            requests[request] = waiting
            queuedPairCount += entries.count
            queuedTokenCount += entries.reduce(0) { $0 + $1.pair.tokenCount }
        }
        metrics.queuedPairs.record(queuedPairCount)
    }

    /// Scores a failed pass request by request, so that only a request whose own pairs fail gets the error.
    private func isolate(_ pass: [PassEntry], on index: Int, error: any Error) async {
        let owners = Set(pass.map(\.request))
        guard owners.count > 1 else {
            logger.error("engine call failed", metadata: ["engine": "\(index)", "error": "\(error)"])
            for request in owners { fail(request, error) }
            return
        }
        logger.warning(
            "engine call failed; scoring its requests one by one",
            metadata: ["engine": "\(index)", "error": "\(error)", "requests": "\(owners.count)"])
        for request in owners.sorted() {
            let own = pass.filter { $0.request == request }
            switch await run(own.map(\.pair), on: index) {
            case .success(let results):
                for (entry, result) in zip(own, results) { deliver(result, to: entry) }
            case .failure(let error):
                logger.error("request failed in the engine", metadata: ["engine": "\(index)", "error": "\(error)"])
                fail(request, error)
            }
        }
    }

    /// Scores pairs on engine `index`'s thread.
    private func run(_ pairs: [ScoringPair], on index: Int) async
        -> Result<[Result<RerankResult, RerankerError>], any Error>
    {
        let slot = engines[index]
        passesRun[index] += 1
        do {
            if let hook = failEngineAfterPasses, hook.engine == index, passesRun[index] > hook.passes {
                throw ServerError.model("engine \(index) failed on purpose (LYCHEE_TEST_FAIL_ENGINE)")
            }
            let results = try await slot.thread.run { try slot.engine.scorePairs(pairs) }
            guard results.count == pairs.count else {
                throw ServerError.engineResultCount(expected: pairs.count, got: results.count)
            }
            return .success(results)
        } catch {
            return .failure(error)
        }
    }

    private func deliver(_ outcome: Result<RerankResult, RerankerError>, to entry: PassEntry) {
        guard var waiting = requests[entry.request] else { return }
        switch outcome {
        case .failure(let error):
            logger.error("pair failed", metadata: ["error": "\(error)"])
            fail(entry.request, ServerError.model(error.description))
        case .success(let result):
            waiting.results[entry.slot] = result
            waiting.remaining -= 1
            if waiting.remaining == 0 {
                requests[entry.request] = nil
                waiting.continuation.resume(returning: waiting.results.compactMap { $0 })
            } else {
                requests[entry.request] = waiting
            }
        }
    }

    /// Fails a request and drops its pairs still queued (its pairs already in a pass are scored, and their
    /// results dropped).
    private func fail(_ request: Int, _ error: any Error) {
        guard let waiting = requests.removeValue(forKey: request) else { return }
        queuedPairCount -= waiting.pending.count
        queuedTokenCount -= waiting.pending.reduce(0) { $0 + $1.pair.tokenCount }
        metrics.queuedPairs.record(queuedPairCount)
        waiting.continuation.resume(throwing: error)
    }
}

/// One engine's state, as `/health` reports it.
public struct EngineState: Codable, Sendable, Equatable {
    public var index: Int
    public var device: String
    public var healthy: Bool
    public var busy: Bool
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

extension Duration {
    /// Whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
