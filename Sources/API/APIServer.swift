package import Foundation
import Hummingbird
import Logging
package import OpenAPIRuntime
import OpenAPIHummingbird
import PostgresNIO
import Prometheus
import Domain
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

    public init(host: String = "127.0.0.1", port: Int = 8000, version: String = "1.0.0", cors: CORSPolicy = CORSPolicy()) {
        self.host = host
        self.port = port
        self.version = version
        self.cors = cors
    }
}

/// Builds the Hummingbird application that serves the API.
public enum APIServer {
    /// The path prefix of every spec operation.
    public static let basePath = "/api/v1"

    /// The router with every route and middleware; tests drive it without a socket.
    public static func makeRouter(client: PostgresClient, registry: PrometheusCollectorRegistry, version: String,
                                  auth: AuthConfiguration, rateLimits: RateLimitPolicy = RateLimitPolicy(),
                                  cors: CORSPolicy = CORSPolicy(), plan: PipelinePlan = .offline, artifacts: (any ArtifactStorage)? = nil,
                                  youtube: YouTubeIntegration? = nil, secrets: TokenCipher? = nil, webhookPolicy: WebhookPolicy = WebhookPolicy(),
                                  logger: Logger) async throws -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: RequestIDMiddleware(allowedMethods: AllowedMethods(document: OpenAPIDocument.json, basePath: basePath)))
        router.add(middleware: CORSMiddleware(policy: cors))
        router.add(middleware: MetricsMiddleware())
        let signer = try await TokenSigner.load(auth)
        let sessions = SessionRepository(client: client, logger: logger)
        let service = APIService(
            client: client, logger: logger, version: version, startedAt: .now, auth: auth, signer: signer,
            passwords: PasswordHasher(cost: auth.bcryptCost), accounts: AccountService(client: client, logger: logger),
            users: UserRepository(client: client, logger: logger), sessions: sessions,
            channels: ChannelRepository(client: client, logger: logger), videos: VideoRepository(client: client, logger: logger),
            submission: VideoSubmission(client: client, plan: plan, logger: logger),
            control: VideoControl(pipeline: PipelineStore(client: client, logger: logger)),
            publications: PublicationStore(client: client, logger: logger),
            webhooks: WebhookRepository(client: client, cipher: try secrets ?? youtube?.cipher ?? TokenCipher.ephemeral(), policy: webhookPolicy,
                                        logger: logger),
            stats: ChannelStats(client: client, logger: logger),
            youtube: youtube, artifacts: artifacts,
            migrations: try Migration.all())
        guard let serverURL = URL(string: basePath) else { preconditionFailure("the base path is a valid URL") }
        try service.registerHandlers(on: router, serverURL: serverURL, configuration: .init(dateTranscoder: LenientDateTranscoder()),
                                     middlewares: [
                                         EmptyBodyMiddleware(),
                                         AuthMiddleware(signer: signer, sessions: sessions),
                                         RateLimitMiddleware(limiter: RateLimiter(client: client, logger: logger), policy: rateLimits,
                                                             document: OpenAPIDocument.json),
                                     ])
        router.get("/.well-known/jwks.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: signer.jwks)))
        }

        let metrics = MetricsEndpoint(registry: registry, client: client, logger: logger)
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: await metrics.render())))
        }
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: DocsPage.html)))
        }
        return router
    }

    /// The application, a `Service` to run in the process's `ServiceGroup`.
    public static func makeApplication(configuration: APIConfiguration, auth: AuthConfiguration, rateLimits: RateLimitPolicy,
                                       client: PostgresClient, registry: PrometheusCollectorRegistry, plan: PipelinePlan,
                                       artifacts: any ArtifactStorage, youtube: YouTubeIntegration?, secrets: TokenCipher,
                                       webhookPolicy: WebhookPolicy, logger: Logger) async throws -> some ApplicationProtocol {
        let router = try await makeRouter(client: client, registry: registry, version: configuration.version, auth: auth,
                                          rateLimits: rateLimits, cors: configuration.cors, plan: plan, artifacts: artifacts, youtube: youtube,
                                          secrets: secrets, webhookPolicy: webhookPolicy, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ytempire"),
            onServerRunning: { _ in
                logger.info("API listening", metadata: ["url": "http://\(configuration.host):\(configuration.port)\(basePath)"])
            },
            logger: logger)
    }
}
