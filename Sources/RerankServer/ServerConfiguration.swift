import Foundation

/// Everything about the server that is not the engine.
public struct ServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String = "127.0.0.1"
    /// Port to listen on (0 picks a free one).
    public var port: Int = 7860
    /// Largest request body, in bytes (images are base64 in the body).
    public var maxBodyBytes: Int = 32 << 20
    /// Most documents in one request.
    public var maxDocuments: Int = 256
    /// Requests worked on at once; more wait in line.
    public var maxConcurrent: Int = 64
    /// Requests allowed to wait in line; beyond, 429 with Retry-After.
    public var maxWaiting: Int = 256
    /// Seconds a refused client is told to wait (`Retry-After`).
    public var retryAfterSeconds: Int = 1
    /// When set, every route but `/health` and the static web pages needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Origins allowed by CORS: empty for none, `["*"]` for any, or exact origins.
    public var corsOrigins: [String] = []
    /// Fetches image URLs in requests; nil (the default) refuses them.
    public var imageFetcher: ImageURLFetcher?
    /// Name reported as `model` in answers.
    public var modelName: String?
    /// Most decoder tokens in one forward pass (pairs of many requests share it).
    public var tokenBudget: Int = 4096
    /// Seconds a request may take from admission to answer; beyond, 504 and its pending work is dropped.
    public var requestTimeoutSeconds: Double = 60
    /// Test hook (`LYCHEE_TEST_FAIL_ENGINE=INDEX:PASSES` on `serve`): engine INDEX fails every pass after its
    /// first PASSES, as an engine whose device was lost would. For checking that no request is lost.
    public var failEngineAfterPasses: (engine: Int, passes: Int)?
    /// Threads preparing requests (tokenizing, decoding images).
    public var preparationThreads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// How long a connection may wait, open and silent, for its next request before it is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// How long a request's head (request line and headers) may take to arrive once its first byte has;
    /// beyond, 408 and the connection is closed.
    public var headerTimeout: Duration = .seconds(15)
    /// How long a request's whole body may take to arrive once its head has; beyond, 408 and the
    /// connection is closed.
    public var bodyTimeout: Duration = .seconds(60)

    public init() {}
}
