import Foundation
import Logging
import Reranker
import ServiceLifecycle

/// Packs the pairs of concurrent requests into engine calls of up to `tokenBudget` tokens.
///
/// Requests hand in their prepared pairs and wait; one loop takes pairs from the queue in arrival order
/// (first fit: a pair longer than the budget runs alone), scores them in one engine call on the engine
/// thread, and gives each request its results once all its pairs are scored. With many concurrent
/// requests each call is full, so throughput grows with concurrency.
///
/// It is a service: it warms the engine up when it starts (``isReady`` turns true), and on graceful
/// shutdown it finishes every queued pair before returning.
public actor PairScheduler<Engine: RerankEngine>: Service {
    private struct QueuedPair {
        var request: Int
        var slot: Int
        var pair: Engine.Pair
        var tokens: Int
    }

    private struct WaitingRequest {
        var results: [RerankResult?]
        var remaining: Int
        var continuation: CheckedContinuation<[RerankResult], any Error>
    }

    let engine: Engine
    let tokenBudget: Int
    private let thread: WorkerThread
    /// Runs request preparation (tokenizing, image preprocessing) beside the engine thread.
    private let preparer = WorkerThread(name: "lychee-prepare")
    private let metrics: ServerMetrics
    private let logger: Logger
    private let warmUp: (@Sendable (Engine) throws -> Void)?

    private var queue = [QueuedPair]()
    private var queueHead = 0
    private var requests = [Int: WaitingRequest]()
    private var nextRequest = 0
    private var wakeUp: CheckedContinuation<Void, Never>?
    private var stopping = false

    /// Whether the engine has been warmed up and takes requests.
    public private(set) var isReady = false

    /// A scheduler over `engine`; `warmUp` runs once on the engine thread before ``isReady`` turns true.
    public init(
        engine: Engine, tokenBudget: Int, metrics: ServerMetrics, logger: Logger,
        warmUp: (@Sendable (Engine) throws -> Void)? = nil
    ) {
        self.engine = engine
        self.tokenBudget = max(1, tokenBudget)
        self.metrics = metrics
        self.logger = logger
        self.warmUp = warmUp
        self.thread = WorkerThread(name: "lychee-engine")
    }

    /// Prepares one request's pairs on the preparation thread (off the event loops and the concurrency pool).
    nonisolated func prepare(
        query: RerankItem, documents: [RerankItem], instruction: String?, options: PairPreparationOptions
    ) async throws -> [Engine.Pair] {
        let engine = self.engine
        return try await preparer.run {
            try engine.preparePairs(query: query, documents: documents, instruction: instruction, options: options)
        }
    }

    /// Pairs waiting to be scored.
    public var queuedPairs: Int { queue.count - queueHead }

    /// Scores `pairs` (one request's), sharing engine calls with other requests' pairs.
    /// - Returns: the results in the pairs' order.
    public func score(_ pairs: [Engine.Pair]) async throws -> [RerankResult] {
        guard !pairs.isEmpty else { return [] }
        guard !stopping else { throw ServerError.shuttingDown }
        let id = nextRequest
        nextRequest += 1
        return try await withCheckedThrowingContinuation { continuation in
            requests[id] = WaitingRequest(
                results: Array(repeating: nil, count: pairs.count), remaining: pairs.count,
                continuation: continuation)
            for (slot, pair) in pairs.enumerated() {
                queue.append(QueuedPair(request: id, slot: slot, pair: pair, tokens: engine.tokenCount(of: pair)))
            }
            metrics.queuedPairs.record(queuedPairs)
            wakeUp?.resume()
            wakeUp = nil
        }
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
        preparer.stop()
    }

    // MARK: The loop

    private func beginStopping() {
        stopping = true
        wakeUp?.resume()
        wakeUp = nil
    }

    private func loop() async {
        while true {
            if queuedPairs == 0 {
                if stopping { return }
                await withCheckedContinuation { wakeUp = $0 }
                continue
            }
            let batch = takeBatch()
            await execute(batch)
        }
    }

    /// Takes pairs from the head of the queue while they fit in the token budget (at least one).
    private func takeBatch() -> [QueuedPair] {
        var batch = [QueuedPair]()
        var tokens = 0
        while queueHead < queue.count {
            let next = queue[queueHead]
            if !batch.isEmpty && tokens + next.tokens > tokenBudget { break }
            batch.append(next)
            tokens += next.tokens
            queueHead += 1
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        metrics.queuedPairs.record(queuedPairs)
        metrics.batchPairs.record(batch.count)
        metrics.batchTokens.record(tokens)
        return batch
    }

    private func execute(_ batch: [QueuedPair]) async {
        let engine = self.engine
        let pairs = batch.map(\.pair)
        let started = ContinuousClock.now
        do {
            let results = try await thread.run { try engine.scorePairs(pairs) }
            guard results.count == batch.count else {
                throw ServerError.engineResultCount(expected: batch.count, got: results.count)
            }
            let elapsed = ContinuousClock.now - started
            metrics.engineSeconds.recordNanoseconds(elapsed.nanoseconds)
            metrics.tokensScored.increment(by: batch.reduce(0) { $0 + $1.tokens })
            logger.debug(
                "engine call", metadata: ["pairs": "\(batch.count)", "requests": "\(Set(batch.map(\.request)).count)"])
            for (entry, result) in zip(batch, results) { deliver(result, to: entry) }
        } catch {
            logger.error("engine call failed", metadata: ["error": "\(error)"])
            for request in Set(batch.map(\.request)) { fail(request, error) }
        }
    }

    private func deliver(_ result: RerankResult, to entry: QueuedPair) {
        guard var waiting = requests[entry.request] else { return }
        waiting.results[entry.slot] = result
        waiting.remaining -= 1
        if waiting.remaining == 0 {
            requests[entry.request] = nil
            waiting.continuation.resume(returning: waiting.results.compactMap { $0 })
        } else {
            requests[entry.request] = waiting
        }
    }

    /// Fails a request and drops its pairs still queued.
    private func fail(_ request: Int, _ error: any Error) {
        guard let waiting = requests.removeValue(forKey: request) else { return }
        let remaining = queue[queueHead...].filter { $0.request != request }
        queue = Array(remaining)
        queueHead = 0
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
