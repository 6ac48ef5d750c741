import Foundation
import Hummingbird
import Logging
import NIOCore
import Reranker
import ServiceLifecycle

/// The parts of a running server that tests and the CLI may want to reach.
public struct RerankServerParts<Engine: RerankEngine>: Sendable {
    /// Packs pairs into engine calls; a service of the application.
    public let scheduler: PairScheduler<Engine>
    /// The metrics `/metrics` prints.
    public let metrics: ServerMetrics
    /// The open HTTP connections (a shutdown that waited long enough closes them).
    public let connections: ConnectionRegistry
    let controller: RerankController<Engine>
}

/// The router with every route and middleware: CORS outermost, then errors/logs/metrics, then 405 for
/// known paths called with another method, then the API key.
public func buildRouter<Engine: RerankEngine>(
    parts: RerankServerParts<Engine>, configuration: ServerConfiguration
) throws -> Router<ServerRequestContext> {
    let router = Router(context: ServerRequestContext.self)
    if !configuration.corsOrigins.isEmpty {
        router.add(middleware: CORSOriginsMiddleware(origins: configuration.corsOrigins))
    }
    router.add(middleware: ObservabilityMiddleware(metrics: parts.metrics))
    let registeredRoutes = RegisteredRoutes()
    router.add(middleware: MethodNotAllowedMiddleware(routes: registeredRoutes))
    if let key = configuration.apiKey, !key.isEmpty {
        router.add(middleware: APIKeyMiddleware(key: key))
    }
    parts.controller.addRoutes(to: router)
    try WebAssets.load().addRoutes(to: router)
    registeredRoutes.record(router)
    return router
}

/// The server application over `engine`: routes, the scheduler service (which warms the engine up,
/// then `/ready` answers 200) and, when image URLs are allowed, the HTTP client's service.
///
/// Run it with `runService()`: SIGTERM and SIGINT stop accepting connections, let in-flight requests
/// finish (the scheduler drains its queue after the HTTP server stops), then return.
/// Connections follow ``RequestGuardHandler``'s discipline (timeouts, body limit, JSON parser errors);
/// `onServerRunning` is called once the server listens.
public func buildApplication<Engine: RerankEngine>(
    engine: Engine, configuration: ServerConfiguration, logger: Logger = Logger(label: "lychee-rerank.server"),
    warmUp: (@Sendable (Engine) throws -> Void)? = nil, extraServices: [any Service] = [],
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> (application: some ApplicationProtocol, parts: RerankServerParts<Engine>) {
    try buildApplication(
        engines: [engine], configuration: configuration, logger: logger, warmUp: warmUp, extraServices: extraServices,
        onServerRunning: onServerRunning)
}

/// ``buildApplication(engine:configuration:logger:warmUp:extraServices:onServerRunning:)`` over several
/// engines (one per GPU), all fed by the one scheduler.
public func buildApplication<Engine: RerankEngine>(
    engines: [Engine], configuration: ServerConfiguration, logger: Logger = Logger(label: "lychee-rerank.server"),
    warmUp: (@Sendable (Engine) throws -> Void)? = nil, extraServices: [any Service] = [],
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> (application: some ApplicationProtocol, parts: RerankServerParts<Engine>) {
    guard !engines.isEmpty else { throw ServerError.model("the server needs at least one engine") }
    let metrics = ServerMetrics()
    let scheduler = PairScheduler(
        engines: engines, tokenBudget: configuration.tokenBudget, metrics: metrics, logger: logger,
        preparationThreads: configuration.preparationThreads, warmUp: warmUp,
        failEngineAfterPasses: configuration.failEngineAfterPasses)
    metrics.tokenBudget.record(configuration.tokenBudget)
    let connections = ConnectionRegistry()
    let controller = RerankController(
        scheduler: scheduler, configuration: configuration, metrics: metrics, connections: connections)
    let parts = RerankServerParts(
        scheduler: scheduler, metrics: metrics, connections: connections, controller: controller)
    let router = try buildRouter(parts: parts, configuration: configuration)
    let limits = RequestGuardHandler.Limits(
        idleTimeout: configuration.idleTimeout, headerTimeout: configuration.headerTimeout,
        bodyTimeout: configuration.bodyTimeout, maxBodyBytes: configuration.maxBodyBytes)
    var application = Application(
        router: router, server: .guardedHTTP1(limits: limits, registry: parts.connections),
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "lychee-rerank"),
        onServerRunning: onServerRunning, logger: logger)
    application.addServices(scheduler)
    application.addServices(extraServices)
    return (application, parts)
}

/// Lychee's warm-up: one text pair and one image pair through the engine, so that the first request
/// does not pay for first-use allocations.
public func standardWarmUp<Engine: RerankEngine>(_ engine: Engine) throws {
    // A 2x2 white PNG.
    let png = Data(
        base64Encoded:
            "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8//8/AwMDEwMDAwMDAwAkBgMB/DXemwAAAABJRU5ErkJggg=="
    )
    let documents = [RerankItem(text: "warm-up")] + (png.map { [RerankItem(image: .encoded($0))] } ?? [])
    let pairs = try engine.preparePairs(
        query: RerankItem(text: "warm-up"), documents: documents, instruction: nil,
        options: PairPreparationOptions())
    for outcome in try engine.scorePairs(pairs) { _ = try outcome.get() }
}
