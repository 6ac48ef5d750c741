import Foundation
import Metrics
import Prometheus
import Qwen25VL
import Reranker

/// The server's Prometheus metrics, on a registry of its own (no global bootstrap, so several servers,
/// e.g. in tests, never share counters).
public final class ServerMetrics: Sendable {
    /// The registry that `/metrics` prints.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    /// Pairs waiting in the scheduler's queue.
    let queuedPairs: Metrics.Gauge
    /// Requests admitted and not yet answered.
    let requestsInFlight: Metrics.Gauge
    /// Requests waiting for admission.
    let requestsWaiting: Metrics.Gauge
    /// Pairs per engine call.
    let batchPairs: Metrics.Recorder
    /// Tokens per engine call.
    let batchTokens: Metrics.Recorder
    /// Prompt tokens scored.
    let tokensScored: Metrics.Counter
    /// Wall time of each engine call.
    let engineSeconds: Metrics.Timer
    /// Images the vision tower embedded ahead of their pass, while the rest of their request was prepared.
    let imagesEmbeddedAhead: Metrics.Counter
    /// Images the vision tower embedded, on every engine (a running total, as a gauge): the image cache's misses
    /// that cost the device work.
    let imagesEmbedded: Metrics.Gauge
    /// Images decoded and resized on the host, and images a request took from another request's decoding
    /// instead of decoding them again (running totals, as gauges).
    let imagesDecoded, imagesDecodedShared: Metrics.Gauge
    /// Requests dropped because their client went away.
    let requestsCancelled: Metrics.Counter
    /// Requests answered 504 after the request timeout.
    let requestsTimedOut: Metrics.Counter
    /// The image cache: hits, misses and evictions (counters as gauges of running totals), entries, bytes.
    let imageCacheHits, imageCacheMisses, imageCacheEvictions, imageCacheEntries, imageCacheBytes,
        imageCacheCapacityBytes: Metrics.Gauge
    /// The prompt prefix cache: hits, misses, evictions, entries, bytes.
    let prefixCacheHits, prefixCacheMisses, prefixCacheEvictions, prefixCacheEntries, prefixCacheBytes: Metrics.Gauge
    /// Cached prefixes kept on the devices: passes that found one there, prefixes uploaded from the host
    /// (running totals, as gauges), entries, bytes and capacity, over every engine.
    let prefixDeviceHits, prefixUploads, prefixDeviceEntries, prefixDeviceBytes,
        prefixDeviceCapacityBytes: Metrics.Gauge
    /// The token budget of a forward pass.
    let tokenBudget: Metrics.Gauge

    /// A fresh registry with every metric declared.
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets = [
            "lychee_batch_pairs": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
            "lychee_batch_tokens": [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
        ]
        self.factory = factory
        queuedPairs = Metrics.Gauge(label: "lychee_queue_pairs", factory: factory)
        requestsInFlight = Metrics.Gauge(label: "lychee_requests_in_flight", factory: factory)
        requestsWaiting = Metrics.Gauge(label: "lychee_requests_waiting", factory: factory)
        batchPairs = Metrics.Recorder(label: "lychee_batch_pairs", dimensions: [], aggregate: true, factory: factory)
        batchTokens = Metrics.Recorder(label: "lychee_batch_tokens", dimensions: [], aggregate: true, factory: factory)
        tokensScored = Metrics.Counter(label: "lychee_tokens_total", factory: factory)
        engineSeconds = Metrics.Timer(label: "lychee_engine_call_seconds", factory: factory)
        imagesEmbeddedAhead = Metrics.Counter(label: "lychee_images_embedded_ahead_total", factory: factory)
        imagesEmbedded = Metrics.Gauge(label: "lychee_images_embedded", factory: factory)
        imagesDecoded = Metrics.Gauge(label: "lychee_images_decoded", factory: factory)
        imagesDecodedShared = Metrics.Gauge(label: "lychee_images_decoded_shared", factory: factory)
        requestsCancelled = Metrics.Counter(label: "lychee_requests_cancelled_total", factory: factory)
        requestsTimedOut = Metrics.Counter(label: "lychee_requests_timed_out_total", factory: factory)
        imageCacheHits = Metrics.Gauge(label: "lychee_image_cache_hits", factory: factory)
        imageCacheMisses = Metrics.Gauge(label: "lychee_image_cache_misses", factory: factory)
        imageCacheEvictions = Metrics.Gauge(label: "lychee_image_cache_evictions", factory: factory)
        imageCacheEntries = Metrics.Gauge(label: "lychee_image_cache_entries", factory: factory)
        imageCacheBytes = Metrics.Gauge(label: "lychee_image_cache_bytes", factory: factory)
        imageCacheCapacityBytes = Metrics.Gauge(label: "lychee_image_cache_capacity_bytes", factory: factory)
        tokenBudget = Metrics.Gauge(label: "lychee_token_budget", factory: factory)
        prefixCacheHits = Metrics.Gauge(label: "lychee_prefix_cache_hits", factory: factory)
        prefixCacheMisses = Metrics.Gauge(label: "lychee_prefix_cache_misses", factory: factory)
        prefixCacheEvictions = Metrics.Gauge(label: "lychee_prefix_cache_evictions", factory: factory)
        prefixCacheEntries = Metrics.Gauge(label: "lychee_prefix_cache_entries", factory: factory)
        prefixCacheBytes = Metrics.Gauge(label: "lychee_prefix_cache_bytes", factory: factory)
        prefixDeviceHits = Metrics.Gauge(label: "lychee_prefix_device_hits", factory: factory)
        prefixUploads = Metrics.Gauge(label: "lychee_prefix_uploads", factory: factory)
        prefixDeviceEntries = Metrics.Gauge(label: "lychee_prefix_device_entries", factory: factory)
        prefixDeviceBytes = Metrics.Gauge(label: "lychee_prefix_device_bytes", factory: factory)
        prefixDeviceCapacityBytes = Metrics.Gauge(label: "lychee_prefix_device_capacity_bytes", factory: factory)
    }

    /// Marks engine `index` in or out of rotation (`lychee_engine_healthy{engine}`).
    func recordEngine(_ index: Int, healthy: Bool) {
        Metrics.Gauge(label: "lychee_engine_healthy", dimensions: [("engine", "\(index)")], factory: factory)
            .record(healthy ? 1 : 0)
    }

    /// Counts one pass of engine `index`: passes, busy seconds and errors per engine.
    func recordEnginePass(_ index: Int, seconds: Double, failed: Bool) {
        let engine = [("engine", "\(index)")]
        Metrics.Counter(label: "lychee_engine_passes_total", dimensions: engine, factory: factory).increment()
        Metrics.FloatingPointCounter(label: "lychee_engine_busy_seconds_total", dimensions: engine, factory: factory)
            .increment(by: seconds)
        if failed {
            Metrics.Counter(label: "lychee_engine_errors_total", dimensions: engine, factory: factory).increment()
        }
    }

    /// Copies the prefix cache's figures into the gauges.
    func record(prefixCache statistics: PrefixCache.Statistics) {
        prefixCacheHits.record(statistics.hits)
        prefixCacheMisses.record(statistics.misses)
        prefixCacheEvictions.record(statistics.evictions)
        prefixCacheEntries.record(statistics.entries)
        prefixCacheBytes.record(statistics.bytes)
    }

    /// Copies the figures of the devices' prefix copies into the gauges.
    func record(prefixCopies statistics: DevicePrefixCopies.Statistics) {
        prefixDeviceHits.record(statistics.hits)
        prefixUploads.record(statistics.uploads)
        prefixDeviceEntries.record(statistics.entries)
        prefixDeviceBytes.record(statistics.bytes)
        prefixDeviceCapacityBytes.record(statistics.capacityBytes)
    }

    /// Copies the figures of the images' decoding into the gauges.
    func record(imagePreparations statistics: ImagePreparations.Statistics) {
        imagesDecoded.record(statistics.decoded)
        imagesDecodedShared.record(statistics.shared)
    }

    /// Copies the image cache's figures into the gauges (before `/metrics` prints them).
    func record(imageCache statistics: ImageEmbeddingCache.Statistics) {
        imageCacheHits.record(statistics.hits)
        imageCacheMisses.record(statistics.misses)
        imageCacheEvictions.record(statistics.evictions)
        imageCacheEntries.record(statistics.entries)
        imageCacheBytes.record(statistics.bytes)
        imageCacheCapacityBytes.record(statistics.capacityBytes)
    }

    /// Counts one answered HTTP request and records its latency.
    func recordRequest(route: String, method: String, status: Int, seconds: Double) {
        let dimensions = [("route", route), ("method", method), ("status", String(status))]
        Metrics.Counter(label: "lychee_http_requests_total", dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: "lychee_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    /// Records the time one request spent in `stage` (`lychee_request_stage_seconds{stage}`).
    func recordStage(_ stage: RequestStage, _ duration: Duration) {
        Metrics.Timer(label: "lychee_request_stage_seconds", dimensions: [("stage", stage.rawValue)], factory: factory)
            .recordNanoseconds(duration.nanoseconds)
    }

    /// Times `body` as `stage` of a request (also when it throws).
    func timing<T>(_ stage: RequestStage, _ body: () async throws -> T) async rethrows -> T {
        let start = ContinuousClock.now
        defer { recordStage(stage, ContinuousClock.now - start) }
        return try await body()
    }

    /// Counts one error answer by its type (`invalid_request`, `rate_limited`, ...).
    func recordError(type: String) {
        Metrics.Counter(label: "lychee_http_errors_total", dimensions: [("type", type)], factory: factory).increment()
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}

/// The stages of a ranking request that `lychee_request_stage_seconds` times, in order.
enum RequestStage: String, CaseIterable, Sendable {
    /// Reading the body and parsing its JSON.
    case decode
    /// Turning the query's and documents' images into bytes (base64 decoding, URL fetches).
    case inputs
    /// Preparing the pairs: image decoding and preprocessing (or image cache lookups), tokenizing.
    case prepare
    /// Waiting for, and running, the forward passes that score the request's pairs.
    case score
    /// The part of `score` spent waiting until a pass first takes some of the request's pairs.
    case queue
}
