import Foundation
import API
import Dispatcher
import Domain
import Providers
import Sandbox
import Logging
import Models
import Metrics
import PostgresNIO
import Prometheus
import Queue
import ServiceLifecycle
import Worker

/// Builds and runs the long-lived roles of one process (API, worker, dispatcher, or all) in
/// one `ServiceGroup`: SIGTERM or Ctrl-C drains, nothing is lost.
struct Fleet {
    var api: APIConfiguration?
    var auth = AuthConfiguration()
    var rateLimits = RateLimitPolicy()
    var worker: WorkerConfiguration?
    var runsDispatcher: Bool
    var maintenance = MaintenanceConfiguration()
    var leaderTTL: Duration = .seconds(15)
    /// The lease of webhook deliveries a dispatcher-only process claims.
    var senderLease: Duration = .seconds(30)
    var pipeline: PipelineSettings
    var youtube: YouTubeSettings
    var webhooks: WebhookSettings
    /// Payments: none unless configured (or embedded by `ytempire up`).
    var stripe = StripeSettings()
    /// `ytempire up`: everything in one process on a developer's machine.
    var embedded = false

    func run(database: Database, logger: Logger) async throws {
        let client = database.makeClient(maximumConnections: 10)
        // A process may start while its database restarts: it waits for an answer (a while) first.
        try await untilAnswered("schema check", logger: logger, isPermanent: { $0 is QueueError }) {
            try await database.withClient { admin in
                let migrator = Migrator(client: admin, migrations: try Migration.all(), logger: logger)
                try await migrator.requireCurrent()
            }
        }
        // One LISTEN connection per process, a pool of its own (on YTEMPIRE_LISTEN_DATABASE_URL,
        // Postgres itself when DATABASE_URL is a transaction pooler): the queue's channels, the
        // live events an API instance relays to its WebSocket clients, and the outbox wake-up of
        // dispatchers.
        let listenClient = database.makeListenClient()
        var services: [any Service] = [client, listenClient]
        let notifier = Notifier(client: listenClient, channels: [NotificationChannel.jobs, NotificationChannel.control]
                                    + (api == nil ? [] : [DomainEvents.liveChannel, ModelRegistry.channel])
                                    + (runsDispatcher ? DispatcherServices.channels : []), logger: logger)
        services.append(notifier)
        let integration = youtube.integration(cipher: webhooks.cipher)
        if let port = youtube.embeddedSandboxPort {
            var configuration = YouTubeSandbox.Configuration()
            configuration.stateFile = youtube.embeddedSandboxState
            services += YouTubeSandbox(configuration: configuration, logger: logger).services(port: port, logger: logger) { bound in
                logger.info("YouTube sandbox listening", metadata: ["url": "http://127.0.0.1:\(bound)"])
            }
        }
        let payments = stripe.payments(client: client, logger: logger)
        if let sandbox = stripe.embeddedSandbox {
            var configuration = StripeSandbox.Configuration()
            configuration.secretKey = StripeSettings.sandboxKey
            configuration.webhookSecret = StripeSettings.sandboxWebhookSecret
            configuration.webhookURL = sandbox.webhookURL
            configuration.stateFile = sandbox.stateFile
            services += StripeSandbox(configuration: configuration, logger: logger).services(port: sandbox.port, logger: logger) { bound in
                logger.info("Stripe sandbox listening", metadata: ["url": "http://127.0.0.1:\(bound)"])
            }
        }
        // Dispatchers send webhooks: the `webhooks` queue is added to this process's worker (or a
        // worker of its own), and the process takes part in the election under that worker's id.
        var worker = worker
        var dispatcher: DispatcherServices?
        if runsDispatcher {
            let sender = DispatcherServices.addingSender(to: worker ?? WorkerConfiguration(queues: [:], lease: senderLease))
            worker = sender
            let built = DispatcherServices(client: client, candidateID: sender.id, leaderTTL: leaderTTL,
                                           settings: try choreSettings(syncsChannels: integration != nil, logger: logger), notifier: notifier,
                                           logger: logger)
            services += built.services
            dispatcher = built
        }
        if let worker {
            let claimClient = database.makeClient(maximumConnections: max(2, worker.queues.count + 2))
            services.insert(claimClient, at: 1)
            let jobs = WorkerJobs(client: client, plan: pipeline.plan, providers: try pipeline.providers(),
                                  youtube: try integration.map { .init(integration: $0, storage: try pipeline.storage()) }, payments: payments,
                                  reportRetention: pipeline.reportRetention, logger: logger)
            var registry = jobs.registry()
            // A worker given the `webhooks` queue sends deliveries too, dispatcher or not.
            (dispatcher?.webhooks ?? WebhookJobs(client: client, cipher: webhooks.cipher, policy: webhooks.policy, logger: logger))
                .register(into: &registry)
            services.append(Worker(configuration: worker, client: claimClient, registry: registry, notifier: notifier, logger: logger))
            if webhooks.policy.allowInsecureURLs {
                logger.warning("webhooks may be sent over plain http and to loopback and private addresses (YTEMPIRE_WEBHOOK_ALLOW_INSECURE): for local use only")
            }
        }
        if let api {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let live = LiveHub(notifier: notifier, configuration: api.live, logger: logger)
            // The models' active versions, loaded on first use and again when a new one is active.
            let activeModels = ActiveModels(registry: ModelRegistry(client: client, storage: try pipeline.storage(), logger: logger))
            services.append(ActiveModelsReloader(models: activeModels, notifier: notifier, logger: logger))
            services.append(try await APIServer.makeApplication(configuration: api, auth: auth, rateLimits: rateLimits, client: client, registry: registry,
                                                                   plan: pipeline.plan, artifacts: try pipeline.storage(), youtube: integration,
                                                                   secrets: webhooks.cipher, webhookPolicy: webhooks.policy, live: live,
                                                                   payments: payments, stripeWebhookSecrets: stripe.webhookSecrets,
                                                                   models: ModelService(models: activeModels, plan: pipeline.plan, client: client, logger: logger),
                                                                   logger: logger))
            // After the application, so that at shutdown it stops first and tells its sockets.
            services.append(live)
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            cancellationSignals: [],
            logger: logger))
        try await group.run()
    }

    /// What this process's leader chores need.
    func choreSettings(syncsChannels: Bool, logger: Logger) throws -> DispatcherChores.Settings {
        var settings = DispatcherChores.Settings(emailTransport: try Self.emailTransport(embedded: embedded, logger: logger), cipher: webhooks.cipher,
                                                 webhookPolicy: webhooks.policy, syncsChannels: syncsChannels)
        settings.maintenance = maintenance
        settings.webhookRetention = webhooks.retention
        return settings
    }

    /// SMTP when `YTEMPIRE_SMTP_URL` is set; else the log, which shows bodies (and so their
    /// tokens) only under `ytempire up` or with `YTEMPIRE_EMAIL_LOG_BODIES=1`.
    static func emailTransport(embedded: Bool, logger: Logger) throws -> any EmailTransport {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["YTEMPIRE_SMTP_URL"], !url.isEmpty else {
            let bodies = environment["YTEMPIRE_EMAIL_LOG_BODIES"].map { ["1", "true", "yes"].contains($0.lowercased()) } ?? embedded
            return LogEmailTransport(logger: logger, includeBodies: bodies)
        }
        let from = environment["YTEMPIRE_EMAIL_FROM"] ?? "no-reply@ytempire.local"
        return SMTPEmailTransport(configuration: try .init(url: url, from: from))
    }
}
