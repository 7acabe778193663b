import Dispatcher
import Domain
import Foundation
import Providers
import Queue
import ServiceLifecycle
import Worker

/// Real workers and a dispatcher on a test database, built by the production builders
/// (`WorkerJobs`, `DispatcherServices`) at test speed, with artifacts in a private directory.
public struct PipelineFleet: Sendable {
    public let db: TestDatabase
    public let plan: PipelinePlan
    public let artifacts: URL

    public init(db: TestDatabase, plan: PipelinePlan = .offline) {
        self.db = db
        self.plan = plan
        self.artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-artifacts-\(UUID().uuidString)")
    }

    public var storage: FileArtifactStorage { get throws { try FileArtifactStorage(root: artifacts) } }

    /// Every stage queue with `slots` each.
    public static func queues(slots: Int = 4) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: PipelineStage.allCases.map { ($0.queue, slots) })
    }

    /// Runs `count` workers and a dispatcher while `body` runs, then drains them.
    /// - Parameters:
    ///   - providers: the stages' providers; default offline over this fleet's storage.
    ///   - youtube: publishing and channel syncs, as `ytempire worker` runs them with YouTube configured.
    ///   - payments: Stripe's events as jobs (`stripe.event`, on the `default` queue).
    ///   - settings: the dispatcher's; default `choreSettings()`.
    ///   - queues: more queues for the workers (publishing, say), merged over the stage queues.
    public func run<T: Sendable>(workers count: Int = 2, providers: StageProviderSet? = nil, youtube: WorkerJobs.YouTube? = nil,
                                 payments: Payments? = nil, settings: DispatcherChores.Settings? = nil, queues: [String: Int] = [:],
                                 _ body: () async throws -> T) async throws -> T {
        let notifier = Notifier(client: db.client, channels: [NotificationChannel.jobs, NotificationChannel.control] + DispatcherServices.channels,
                                logger: db.logger)
        let dispatcher = try dispatcher(settings: settings, notifier: notifier)
        var registry = WorkerJobs(client: db.client, plan: plan, providers: try providers ?? StageProviderSet.offline(storage: storage),
                                  youtube: youtube, payments: payments, logger: db.logger).registry()
        dispatcher.register(into: &registry)
        var services: [any Service] = [notifier]
        for index in 0..<count {
            let client = db.makeClient(maximumConnections: 3)
            services.append(client)
            let configuration = WorkerConfiguration(id: "pipeline-\(index)-\(UInt16.random(in: 0...UInt16.max))", queues: Self.queues().merging(queues) { $1 },
                                                    lease: .seconds(30), pollInterval: .milliseconds(200), shutdownGrace: .seconds(5),
                                                    retryPolicy: RetryPolicy(base: 0.05, maximum: 0.2, jitter: 0))
            services.append(Worker(configuration: configuration, client: client, registry: registry, notifier: notifier, logger: db.logger))
        }
        services += dispatcher.services
        return try await withRunningServices(services, logger: db.logger, body)
    }

    /// The dispatcher's settings at test speed where a test waits for its chores: rescue,
    /// promotion, reservation settling, fan-out and the quota reset's wake-up.
    public func choreSettings(cipher: TokenCipher? = nil, webhookPolicy: WebhookPolicy = WebhookPolicy(),
                              now: @escaping @Sendable () -> Date = { Date() }) throws -> DispatcherChores.Settings {
        var settings = DispatcherChores.Settings(emailTransport: LogEmailTransport(logger: db.logger, includeBodies: false),
                                                 cipher: try cipher ?? TokenCipher.ephemeral(), webhookPolicy: webhookPolicy, syncsChannels: false)
        settings.maintenance.rescueInterval = .milliseconds(200)
        settings.maintenance.scheduleInterval = .milliseconds(50)
        settings.reservationSettleInterval = .milliseconds(100)
        settings.budgetAlertInterval = .milliseconds(100)
        settings.fanoutInterval = .milliseconds(50)
        settings.quotaResetInterval = .milliseconds(100)
        settings.now = now
        return settings
    }

    /// The chores `run`'s dispatcher runs, built the way `run` builds it.
    public func chores() throws -> [any MaintenanceTask] {
        try dispatcher(settings: nil, notifier: nil).maintainer.tasks
    }

    func dispatcher(settings: DispatcherChores.Settings?, notifier: Notifier?) throws -> DispatcherServices {
        DispatcherServices(client: db.client, candidateID: "dispatcher-test", leaderTTL: .seconds(5),
                           settings: try settings ?? choreSettings(), notifier: notifier, logger: db.logger)
    }

    /// Waits until no video is processing and no reservation is held any more.
    public func waitForVideos(timeout: Duration = .seconds(120)) async throws -> Bool {
        try await eventually(timeout: timeout) {
            try await db.scalar("""
                SELECT (SELECT count(*) FROM videos WHERE status = 'processing') + (SELECT count(*) FROM cost_reservations)
                """) == 0
        }
    }
}
