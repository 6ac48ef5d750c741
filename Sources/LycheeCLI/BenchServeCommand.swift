import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Workloads

/// `lychee-rerank bench-serve --url URL`: closed-loop load on a running server with the serving workloads
/// of BENCHMARK.md; prints docs/s, req/s and latency percentiles per mix and client count.
struct BenchServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-serve",
        abstract: "Load a running server with the serving workloads (S1-S4): docs/s, req/s, p50/p95/p99 per step.",
        discussion: """
            Closed loop: each client sends its next request when the last one is answered (building the next \
            body while a request is out; latency counts from the send). Each step (a mix at a client count) \
            runs for --seconds after --warmup-seconds of the same load. Requests are deterministic (request i \
            of a mix is always the same), so runs are comparable.
            """
    )

    @Option(name: .long, help: "The server's base URL.")
    var url = "http://127.0.0.1:7860"
    @Option(name: .long, help: "Comma-separated mixes: S1, S2, S3, S4.")
    var mix = "S1,S2,S3,S4"
    @Option(name: .long, help: "Comma-separated client counts.")
    var clients = "1,8,32"
    @Option(name: .long, help: "Measured seconds per step.")
    var seconds: Double = 20
    @Option(name: .long, help: "Unmeasured seconds of the same load before each step.")
    var warmupSeconds: Double = 3
    @Option(name: .long, help: "API key (Authorization: Bearer), if the server wants one (default: $LYCHEE_API_KEY).")
    var apiKey: String?
    @Option(name: .long, help: "Write every step's figures as JSON to this file.")
    var jsonOut: String?

    var mixes: [String] { mix.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
    var clientCounts: [Int] {
        clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        for id in mixes where !ServeWorkload.ids.contains(id) {
            throw ValidationError("--mix takes S1, S2, S3, S4 (comma-separated); \(id) is none of them")
        }
        guard !clientCounts.isEmpty, clientCounts.allSatisfy({ $0 >= 1 }),
            clientCounts.count == clients.split(separator: ",").count
        else {
            throw ValidationError("--clients takes positive integers, comma-separated, e.g. 1,8,32; got \(clients)")
        }
        guard seconds > 0, warmupSeconds >= 0 else {
            throw ValidationError("--seconds must be > 0, --warmup-seconds >= 0")
        }
        guard URL(string: url)?.host != nil else {
            throw ValidationError("--url must be a URL like http://127.0.0.1:7860")
        }
    }

    func run() async throws {
        // One connection per client: the pool's default (8 per host) would cap the concurrency the server sees.
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10)))
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: (clientCounts.max() ?? 1) + 1)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let key = apiKey ?? ProcessInfo.processInfo.environment["LYCHEE_API_KEY"]
        var steps = [ServeStep]()
        do {
            print("mix  clients  requests    req/s     docs/s     p50 ms     p95 ms     p99 ms  errors")
            for id in mixes {
                let workload = try ServeWorkload(id)
                // One numbering per mix, warm-ups included: no step repeats the requests (S2's images) that
                // an earlier step or its warm-up put in the server's caches.
                let counter = RequestCounter()
                for count in clientCounts {
                    let load = ServeLoad(
                        client: client, endpoint: url.hasSuffix("/") ? url + "v1/rerank" : url + "/v1/rerank",
                        apiKey: key, workload: workload, counter: counter)
                    _ = await load.run(clients: count, seconds: warmupSeconds)
                    let step = await load.run(clients: count, seconds: seconds)
                    print(step.row)
                    if let message = step.firstError { print("     first error: \(message)") }
                    steps.append(step)
                }
            }
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
        if let jsonOut {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(steps).write(to: URL(fileURLWithPath: jsonOut))
        }
        if steps.contains(where: { $0.errors > 0 }) { throw ExitCode(1) }
    }
}

/// The figures of one step.
struct ServeStep: Codable, Sendable {
    var mix: String
    var clients: Int
    var seconds: Double
    var requests: Int
    var documents: Int
    var errors: Int
    var requestsPerSecond: Double
    var documentsPerSecond: Double
    var p50Milliseconds: Double
    var p95Milliseconds: Double
    var p99Milliseconds: Double
    var firstError: String?

    var row: String {
        String(
            format: "%-4@ %7d %9d %8.1f %10.1f %10.1f %10.1f %10.1f %7d", mix, clients, requests, requestsPerSecond,
            documentsPerSecond, p50Milliseconds, p95Milliseconds, p99Milliseconds, errors)
    }
}

/// Closed-loop clients posting one mix's requests.
struct ServeLoad: Sendable {
    let client: HTTPClient
    let endpoint: String
    let apiKey: String?
    let workload: ServeWorkload
    /// Hands out the mix's request numbers.
    let counter: RequestCounter

    /// One request's outcome.
    private struct Outcome: Sendable {
        var seconds: Double
        var documents: Int
        var error: String?
    }

    /// Runs `clients` closed loops for `seconds`; requests started before the end count when they finish.
    func run(clients: Int, seconds: Double) async -> ServeStep {
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int64(seconds * 1000))
        let outcomes = await withTaskGroup(of: [Outcome].self) { group in
            for _ in 0..<clients {
                group.addTask {
                    var mine = [Outcome]()
                    // Each client builds its next body (base64 images, JSON: tens of milliseconds for S2) while
                    // its request is out, as a client holding its payloads would: the figures are the server's.
                    var next = prepare(counter.next())
                    while ContinuousClock.now < end {
                        let body = await next.value
                        next = prepare(counter.next())
                        mine.append(await send(body))
                    }
                    next.cancel()
                    return mine
                }
            }
            var all = [Outcome]()
            for await part in group { all += part }
            return all
        }
        let elapsed =
            Double((ContinuousClock.now - start).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - start).components.seconds)
        let good = outcomes.filter { $0.error == nil }
        let latencies = good.map(\.seconds).sorted()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
        }
        let documents = good.reduce(0) { $0 + $1.documents }
        return ServeStep(
            mix: workload.id, clients: clients, seconds: elapsed, requests: good.count, documents: documents,
            errors: outcomes.count - good.count, requestsPerSecond: Double(good.count) / elapsed,
            documentsPerSecond: Double(documents) / elapsed, p50Milliseconds: percentile(0.5),
            p95Milliseconds: percentile(0.95), p99Milliseconds: percentile(0.99),
            firstError: outcomes.first { $0.error != nil }?.error)
    }

    /// A request's body, built ahead of sending.
    private struct PreparedBody: Sendable {
        var documents: Int
        var bytes: Data
    }

    /// Starts building request `index`'s body.
    private func prepare(_ index: Int) -> Task<Result<PreparedBody, any Error>, Never> {
        Task {
            Result {
                let request = workload.request(index)
                return PreparedBody(documents: request.documents.count, bytes: try request.body())
            }
        }
    }

    /// Sends one request; its latency counts from the send (the body was built before).
    private func send(_ body: Result<PreparedBody, any Error>) async -> Outcome {
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let duration = ContinuousClock.now - started
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        do {
            let request = try body.get()
            var http = HTTPClientRequest(url: endpoint)
            http.method = .POST
            http.headers.add(name: "Content-Type", value: "application/json")
            if let apiKey { http.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
            http.body = .bytes(ByteBuffer(data: request.bytes))
            let response = try await client.execute(http, timeout: .seconds(300))
            let body = try await response.body.collect(upTo: 64 << 20)
            guard response.status == .ok else {
                return Outcome(
                    seconds: elapsed(), documents: 0,
                    error: "HTTP \(response.status.code): \(String(buffer: body).prefix(300))")
            }
            return Outcome(seconds: elapsed(), documents: request.documents, error: nil)
        } catch {
            return Outcome(seconds: elapsed(), documents: 0, error: "\(error)")
        }
    }
}

/// Hands out request numbers to concurrent clients.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
        lock.withLock {
            defer { value += 1 }; return value
        }
    }
}
