import Dispatcher
import Domain
import Foundation
import Providers
import Queue
import ServiceLifecycle
import Worker

/// Real pipeline workers and the leader's chores (rescue, schedule, reservation settling) on a
/// test database, at test speed, with artifacts in a private directory.
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

    /// Runs `count` workers with `providers` (default: offline over this fleet's storage) and a
    /// dispatcher while `body` runs, then drains them.
    /// - Parameters:
    ///   - register: more job kinds for the workers (publishing, say), on `queues`.
    ///   - tasks: more chores for the dispatcher.
    public func run<T: Sendable>(workers count: Int = 2, providers: StageProviderSet? = nil, queues: [String: Int] = [:],
                                 register: (inout JobRegistry) -> Void = { _ in }, tasks extraTasks: [any MaintenanceTask] = [],
                                 _ body: () async throws -> T) async throws -> T {
        let providers = try providers ?? StageProviderSet.offline(storage: storage)
        var registry = JobRegistry()
        PipelineJobs(client: db.client, plan: plan, providers: providers, logger: db.logger).register(into: &registry)
        register(&registry)
        let notifier = Notifier(client: db.client, channels: [NotificationChannel.jobs, NotificationChannel.control, DomainEvents.outboxChannel],
                                logger: db.logger)
        var services: [any Service] = [notifier]
        for index in 0..<count {
            let client = db.makeClient(maximumConnections: 3)
            services.append(client)
            let configuration = WorkerConfiguration(id: "pipeline-\(index)-\(UInt16.random(in: 0...UInt16.max))", queues: Self.queues().merging(queues) { $1 },
                                                    lease: .seconds(30), pollInterval: .milliseconds(200), shutdownGrace: .seconds(5),
                                                    retryPolicy: RetryPolicy(base: 0.05, maximum: 0.2, jitter: 0))
            services.append(Worker(configuration: configuration, client: client, registry: registry, notifier: notifier, logger: db.logger))
        }
        let elector = LeaderElector(store: LeaderStore(client: db.client, logger: db.logger), candidateID: "dispatcher-test",
                                    ttl: .seconds(5), logger: db.logger)
        let tasks = try chores() + extraTasks
        services.append(elector)
        services.append(Maintainer(elector: elector, tasks: tasks, notifier: notifier, logger: db.logger))
        return try await withRunningServices(services, logger: db.logger, body)
    }

    /// The dispatcher's production chores (`DispatcherChores`), at test speed where a test
    /// waits for them: rescue, promotion and reservation settling.
    public func chores() throws -> [any MaintenanceTask] {
        var settings = DispatcherChores.Settings(emailTransport: LogEmailTransport(logger: db.logger, includeBodies: false),
                                                 cipher: try TokenCipher.ephemeral(), webhookPolicy: WebhookPolicy(), syncsChannels: false)
        settings.maintenance.rescueInterval = .milliseconds(200)
        settings.maintenance.scheduleInterval = .milliseconds(50)
        settings.reservationSettleInterval = .milliseconds(100)
        return DispatcherChores.all(client: db.client, settings: settings, logger: db.logger)
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
