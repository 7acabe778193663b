package import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
package import OpenAPIRuntime
import OpenAPIHummingbird
import PostgresNIO
import Prometheus
import Domain
import Models
import Queue

/// How the API server listens. Every default is the embedded one.
public struct APIConfiguration: Sendable {
    /// Interface to bind. Default 127.0.0.1; production uses 0.0.0.0 behind a proxy.
    public var host: String
    /// Port. Default 8000, the spec's base URL.
    public var port: Int
    /// Reported by /health and /status.
    public var version: String
    /// Browser origins allowed to call the API. Default none.
    public var cors: CORSPolicy
    /// The WebSocket endpoints.
    public var live: LiveConfiguration
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    public var metricsToken: String?
    /// The reverse proxies in front of the API, whose `X-Forwarded-For` is believed. Default none.
    public var trustedProxies = TrustedProxies()
    /// Where Swagger UI's files are (`YTEMPIRE_DOCS_DIR`): `/docs` serves the reference from
    /// them, or the project's own page without them.
    public var docsDirectory: String?

    public init(host: String = "127.0.0.1", port: Int = 8000, version: String = "1.0.0", cors: CORSPolicy = CORSPolicy(),
                live: LiveConfiguration = LiveConfiguration()) {
        self.host = host
        self.port = port
        self.version = version
        self.cors = cors
        self.live = live
    }
}

/// The API's routers: HTTP operations, and the WebSocket endpoints' upgrade checks.
public struct APIRouters {
    public let http: Router<APIRequestContext>
    /// Nil when built without a `LiveHub`: no WebSocket endpoints.
    public let webSocket: Router<LiveRequestContext>?
    /// The password hasher the routes use (its work counts are what a login costs).
    let passwords: PasswordHasher
}

/// Builds the Hummingbird application that serves the API.
public enum APIServer {
    /// The path prefix of every spec operation.
    public static let basePath = "/api/v1"

    /// The routers with every route and middleware; tests drive the HTTP one without a socket.
    /// - Parameter live: the process's hub of live events; without one, no WebSocket endpoints.
    public static func makeRouters(client: PostgresClient, registry: PrometheusCollectorRegistry, version: String,
                                   auth: AuthConfiguration, rateLimits: RateLimitPolicy = RateLimitPolicy(),
                                   cors: CORSPolicy = CORSPolicy(), plan: PipelinePlan = .offline, artifacts: (any ArtifactStorage)? = nil,
                                   youtube: YouTubeIntegration? = nil, secrets: TokenCipher? = nil, webhookPolicy: WebhookPolicy = WebhookPolicy(),
                                   live: LiveHub? = nil, metricsToken: String? = nil, trustedProxies: TrustedProxies = TrustedProxies(),
                                   payments: Payments? = nil, stripeWebhookSecrets: [String] = [], models: ModelService? = nil,
                                   docs: APIReference? = nil, logger: Logger) async throws -> APIRouters {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: RequestIDMiddleware(allowedMethods: AllowedMethods(document: OpenAPIDocument.json, basePath: basePath),
                                                   trustedProxies: trustedProxies))
        router.add(middleware: CORSMiddleware(policy: cors))
        router.add(middleware: MetricsMiddleware())
        let signer = try await TokenSigner.load(auth)
        let sessions = SessionRepository(client: client, logger: logger)
        let tokens = AccessTokens(signer: signer, sessions: sessions)
        let channels = ChannelRepository(client: client, logger: logger)
        let limiter = RateLimiter(client: client, logger: logger)
        let secrets = try secrets ?? youtube?.cipher ?? TokenCipher.ephemeral()
        let users = UserRepository(client: client, logger: logger, cipher: secrets)
        let service = APIService(
            client: client, logger: logger, version: version, startedAt: .now, auth: auth, signer: signer,
            passwords: try await PasswordHasher.make(cost: auth.bcryptCost), limiter: limiter, rateLimits: rateLimits, accounts: AccountService(client: client, logger: logger),
            users: users, sessions: sessions,
            channels: channels, videos: VideoRepository(client: client, logger: logger),
            submission: VideoSubmission(client: client, plan: plan, paymentGrace: payments?.settings.grace ?? PaymentSettings().grace,
                                        estimator: models.map { ModelCostEstimator(models: $0.models) }, logger: logger),
            control: VideoControl(pipeline: PipelineStore(client: client, logger: logger)),
            publications: PublicationStore(client: client, logger: logger),
            webhooks: WebhookRepository(client: client, cipher: secrets, policy: webhookPolicy, logger: logger),
            stats: ChannelStats(client: client, logger: logger),
            youtube: youtube, models: models, payments: payments, stripeWebhookSecrets: stripeWebhookSecrets, artifacts: artifacts,
            migrations: try Migration.all())
        guard let serverURL = URL(string: basePath) else { preconditionFailure("the base path is a valid URL") }
        try service.registerHandlers(on: router, serverURL: serverURL, configuration: .init(dateTranscoder: LenientDateTranscoder()),
                                     middlewares: [
                                         EmptyBodyMiddleware(),
                                         HeaderTextMiddleware(),
                                         AuthMiddleware(tokens: tokens),
                                         RateLimitMiddleware(limiter: limiter, policy: rateLimits, document: OpenAPIDocument.json),
                                     ])
        router.get("/.well-known/jwks.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: signer.jwks)))
        }

        let metrics = MetricsEndpoint(registry: registry, client: client, logger: logger)
        router.get("/metrics") { request, _ in
            guard MetricsEndpoint.authorized(request.headers[.authorization], token: metricsToken) else {
                var refused = APIError.unauthorized("/metrics needs the bearer token set in YTEMPIRE_METRICS_TOKEN")
                refused.headers[.wwwAuthenticate] = "Bearer"
                throw refused
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: await metrics.render())))
        }
        addProbes(to: router, service: service)
        try await AdminConsole.load().add(to: router)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        if let docs {
            docs.add(to: router)
        } else {
            router.get("/docs") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                         body: .init(byteBuffer: ByteBuffer(string: DocsPage.html)))
            }
        }
        guard let live else { return APIRouters(http: router, webSocket: nil, passwords: service.passwords) }
        let routes = LiveRoutes(hub: live, tokens: tokens, channels: channels, analytics: LiveAnalytics(client: client, logger: logger),
                                fleet: FleetPulse(client: client, maxAge: live.configuration.fleetRefresh, logger: logger),
                                rateLimits: rateLimits, gate: RateLimitGate(limiter: limiter), trustedProxies: trustedProxies,
                                pending: PendingSockets(limitPerAddress: live.configuration.maxPendingPerAddress,
                                                        limit: live.configuration.maxPending))
        routes.addFallbacks(to: router)
        return APIRouters(http: router, webSocket: routes.webSocketRouter(), passwords: service.passwords)
    }

    /// An application serving `routers`: HTTP/1.1, upgraded to WebSocket on the live endpoints.
    public static func application(_ routers: APIRouters, address: BindAddress, pingInterval: Duration = .seconds(30),
                                   onServerRunning: @escaping @Sendable (any NIOCore.Channel) async -> Void = { _ in },
                                   logger: Logger) -> some ApplicationProtocol {
        let configuration = ApplicationConfiguration(address: address, serverName: "ytempire")
        guard let webSocket = routers.webSocket else {
            return Application(router: routers.http, configuration: configuration, onServerRunning: onServerRunning, logger: logger)
        }
        return Application(router: routers.http,
                           server: .http1WebSocketUpgrade(webSocketRouter: webSocket,
                                                          configuration: .init(ws: .init(autoPing: .enabled(timePeriod: pingInterval)))),
                           configuration: configuration, onServerRunning: onServerRunning, logger: logger)
    }

    /// The application, a `Service` to run in the process's `ServiceGroup`.
    public static func makeApplication(configuration: APIConfiguration, auth: AuthConfiguration, rateLimits: RateLimitPolicy,
                                       client: PostgresClient, registry: PrometheusCollectorRegistry, plan: PipelinePlan,
                                       artifacts: any ArtifactStorage, youtube: YouTubeIntegration?, secrets: TokenCipher,
                                       webhookPolicy: WebhookPolicy, live: LiveHub, payments: Payments? = nil, stripeWebhookSecrets: [String] = [],
                                       models: ModelService? = nil, logger: Logger) async throws -> some ApplicationProtocol {
        let routers = try await makeRouters(client: client, registry: registry, version: configuration.version, auth: auth,
                                            rateLimits: rateLimits, cors: configuration.cors, plan: plan, artifacts: artifacts, youtube: youtube,
                                            secrets: secrets, webhookPolicy: webhookPolicy, live: live,
                                            metricsToken: configuration.metricsToken, trustedProxies: configuration.trustedProxies,
                                            payments: payments, stripeWebhookSecrets: stripeWebhookSecrets, models: models,
                                            docs: APIReference(directory: configuration.docsDirectory), logger: logger)
        if configuration.docsDirectory != nil, APIReference(directory: configuration.docsDirectory) == nil {
            logger.warning("YTEMPIRE_DOCS_DIR lacks Swagger UI's files: /docs serves the built-in page", metadata: ["dir": "\(configuration.docsDirectory ?? "")"])
        }
        return application(routers, address: .hostname(configuration.host, port: configuration.port),
                           pingInterval: configuration.live.pingInterval, onServerRunning: { _ in
                               logger.info("API listening", metadata: ["url": "http://\(configuration.host):\(configuration.port)\(basePath)"])
                           }, logger: logger)
    }
}
