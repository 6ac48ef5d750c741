import Foundation
import Metrics
import Prometheus

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
    }

    /// Counts one answered HTTP request and records its latency.
    func recordRequest(route: String, method: String, status: Int, seconds: Double) {
        let dimensions = [("route", route), ("method", method), ("status", String(status))]
        Metrics.Counter(label: "lychee_http_requests_total", dimensions: dimensions, factory: factory).increment()
        Metrics.Timer(label: "lychee_http_request_duration_seconds", dimensions: [("route", route)], factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1e9))
    }

    /// Counts one error answer by its type (`invalid_request`, `rate_limited`, ...).
    func recordError(type: String) {
        Metrics.Counter(label: "lychee_http_errors_total", dimensions: [("type", type)], factory: factory).increment()
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}
