import Foundation
import Logging
import Reranker
import ServiceLifecycle

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
///
/// It is a service: it warms the engine up when it starts (``isReady`` turns true), and on graceful
/// shutdown it finishes every queued pair before returning.
public actor PairScheduler<Engine: RerankEngine>: Service {
    private struct WaitingRequest {
        /// Pairs not yet handed to a pass, by position in the request.
        var pending: [(slot: Int, pair: ScoringPair)]
        var results: [RerankResult?]
        var remaining: Int
        var continuation: CheckedContinuation<[RerankResult], any Error>
        /// The pass that last took pairs of this request (for fairness).
        var lastServed: Int
        let arrival: Int
    }

    let engine: Engine
    /// Most decoder tokens in one pass.
    public let tokenBudget: Int
    private let thread: WorkerThread
    /// Runs request preparation (tokenizing, image decoding and preprocessing), one thread per core.
    private let preparers: WorkerPool
    private let metrics: ServerMetrics
    private let logger: Logger
    private let warmUp: (@Sendable (Engine) throws -> Void)?

    private var requests = [Int: WaitingRequest]()
    private var nextRequest = 0
    private var passesStarted = 0
    private var queuedPairCount = 0
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var stopping = false

    /// Whether the engine has been warmed up and takes requests.
    public private(set) var isReady = false

    /// A scheduler over `engine`; `warmUp` runs once on the engine thread before ``isReady`` turns true.
    /// - Parameter preparationThreads: threads preparing requests (default: one per core).
    public init(
        engine: Engine, tokenBudget: Int, metrics: ServerMetrics, logger: Logger,
        preparationThreads: Int = ProcessInfo.processInfo.activeProcessorCount,
        warmUp: (@Sendable (Engine) throws -> Void)? = nil
    ) {
        self.engine = engine
        self.tokenBudget = max(1, tokenBudget)
        self.metrics = metrics
        self.logger = logger
        self.warmUp = warmUp
        self.thread = WorkerThread(name: "lychee-engine")
        self.preparers = WorkerPool(name: "lychee-prepare", size: preparationThreads)
    }

    /// Prepares one request's pairs on the preparation pool (off the event loops and the concurrency pool).
    nonisolated func prepare(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) async throws -> [ScoringPair] {
        let engine = self.engine
        return try await preparers.run {
            try engine.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
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
        let entries = pairs.enumerated().map { (slot: $0.offset, pair: $0.element) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enqueue(id, entries, continuation)
            }
        } onCancel: {
            Task { await self.fail(id, ServerError.cancelled) }
        }
    }

    private func enqueue(
        _ id: Int, _ entries: [(slot: Int, pair: ScoringPair)],
        _ continuation: CheckedContinuation<[RerankResult], any Error>
    ) {
        // Never served: ranks ahead of the requests the running pass serves (see `takePass`).
        requests[id] = WaitingRequest(
            pending: entries, results: Array(repeating: nil, count: entries.count), remaining: entries.count,
            continuation: continuation, lastServed: passesStarted - 2, arrival: id)
        queuedPairCount += entries.count
        metrics.queuedPairs.record(queuedPairCount)
        wakeUp?.resume()
        wakeUp = nil
    }

    public func run() async throws {
        if let warmUp {
            let engine = self.engine
            let started = ContinuousClock.now
            try await thread.run { try warmUp(engine) }
            logger.info("engine warmed up", metadata: ["seconds": "\(ContinuousClock.now - started)"])
        }
        isReady = true
        await withGracefulShutdownHandler {
            await loop()
        } onGracefulShutdown: {
            Task { await self.beginStopping() }
        }
        thread.stop()
        preparers.stop()
    }

    // MARK: The loop

    private func beginStopping() {
        stopping = true
        wakeUp?.resume()
        wakeUp = nil
    }

    private func loop() async {
        while true {
            if queuedPairCount == 0 {
                if stopping { return }
                await withCheckedContinuation { wakeUp = $0 }
                continue
            }
            let pass = takePass()
            await execute(pass)
        }
    }

    /// One pair of a pass and whose it is.
    private struct PassEntry {
        var request: Int
        var slot: Int
        var pair: ScoringPair
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
            var kept = [(slot: Int, pair: ScoringPair)]()
            for entry in request.pending {
                if cost.fits(entry.pair, budget: tokenBudget) {
                    cost.add(entry.pair)
                    entries.append(PassEntry(request: id, slot: entry.slot, pair: entry.pair))
                } else {
                    kept.append(entry)
                }
            }
            if kept.count < request.pending.count { request.lastServed = pass }
            request.pending = kept
            requests[id] = request
        }
        queuedPairCount -= entries.count
        metrics.queuedPairs.record(queuedPairCount)
        metrics.batchPairs.record(entries.count)
        metrics.batchTokens.record(cost.tokens)
        return entries
    }

    private func execute(_ pass: [PassEntry]) async {
        let started = ContinuousClock.now
        let outcome = await run(pass.map(\.pair))
        metrics.engineSeconds.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        switch outcome {
        case .success(let results):
            metrics.tokensScored.increment(by: pass.reduce(0) { $0 + $1.pair.tokenCount })
            logger.debug(
                "engine call", metadata: ["pairs": "\(pass.count)", "requests": "\(Set(pass.map(\.request)).count)"])
            for (entry, result) in zip(pass, results) { deliver(result, to: entry) }
        case .failure(let error):
            let owners = Set(pass.map(\.request))
            guard owners.count > 1 else {
                logger.error("engine call failed", metadata: ["error": "\(error)"])
                for request in owners { fail(request, error) }
                return
            }
            // Find whose pairs fail: each request of the pass again, on its own.
            logger.warning(
                "engine call failed; scoring its requests one by one", metadata: ["error": "\(error)", "requests": "\(owners.count)"])
            for request in owners.sorted() {
                let own = pass.filter { $0.request == request }
                switch await run(own.map(\.pair)) {
                case .success(let results):
                    for (entry, result) in zip(own, results) { deliver(result, to: entry) }
                case .failure(let error):
                    logger.error("request failed in the engine", metadata: ["error": "\(error)"])
                    fail(request, error)
                }
            }
        }
    }

    /// Scores pairs on the engine thread.
    private func run(_ pairs: [ScoringPair]) async -> Result<[Result<RerankResult, RerankerError>], any Error> {
        let engine = self.engine
        do {
            let results = try await thread.run { try engine.scorePairs(pairs) }
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
        metrics.queuedPairs.record(queuedPairCount)
        if case ServerError.cancelled = error { metrics.requestsCancelled.increment() }
        waiting.continuation.resume(throwing: error)
    }
}

extension Duration {
    /// Whole nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
