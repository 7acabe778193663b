import Domain
import Foundation
import Logging
import PostgresNIO
import Providers
import Queue
import ServiceLifecycle
import TestSupport
import Testing
import Worker

/// Real pipeline workers (and the reservation settler) on a test database, with artifacts in
/// a private directory.
struct PipelineHarness {
    let db: TestDatabase
    var plan = PipelinePlan.offline
    let artifacts: URL

    init(db: TestDatabase, plan: PipelinePlan = .offline) throws {
        self.db = db
        self.plan = plan
        self.artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-artifacts-\(UUID().uuidString)")
    }

    var storage: FileArtifactStorage { get throws { try FileArtifactStorage(root: artifacts) } }
    var submission: VideoSubmission { VideoSubmission(client: db.client, plan: plan, logger: db.logger) }
    var videos: VideoRepository { VideoRepository(client: db.client, logger: db.logger) }
    var pipeline: PipelineStore { PipelineStore(client: db.client, logger: db.logger) }
    var control: VideoControl { VideoControl(pipeline: pipeline) }

    /// Every stage queue with `slots` each.
    static func queues(slots: Int = 4) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: PipelineStage.allCases.map { ($0.queue, slots) })
    }

    /// Runs `count` workers with `providers` (default: offline over this harness's storage)
    /// while `body` runs.
    func run<T: Sendable>(workers count: Int = 2, providers: StageProviderSet? = nil, _ body: () async throws -> T) async throws -> T {
        let providers = try providers ?? StageProviderSet.offline(storage: storage)
        var registry = JobRegistry()
        PipelineJobs(client: db.client, plan: plan, providers: providers, logger: db.logger).register(into: &registry)
        let notifier = Notifier(client: db.client, logger: db.logger)
        var services: [any Service] = [notifier]
        for index in 0..<count {
            let client = db.makeClient()
            services.append(client)
            let configuration = WorkerConfiguration(id: "pipeline-\(index)-\(UInt16.random(in: 0...UInt16.max))", queues: Self.queues(),
                                                    lease: .seconds(30), pollInterval: .milliseconds(200), shutdownGrace: .seconds(5),
                                                    retryPolicy: RetryPolicy(base: 0.05, maximum: 0.2, jitter: 0))
            services.append(Worker(configuration: configuration, client: client, registry: registry, notifier: notifier, logger: db.logger))
        }
        // The dispatcher's chores as production runs them, at test speed.
        let elector = LeaderElector(store: LeaderStore(client: db.client, logger: db.logger), candidateID: "dispatcher-test",
                                    ttl: .seconds(5), logger: db.logger)
        var maintenance = MaintenanceConfiguration()
        maintenance.rescueInterval = .milliseconds(200)
        maintenance.scheduleInterval = .milliseconds(50)
        let tasks = Maintainer.queueTasks(jobs: JobStore(client: db.client, logger: db.logger),
                                          workers: WorkerStore(client: db.client, logger: db.logger), configuration: maintenance)
            + [ReservationSettler(ledger: CostLedger(client: db.client, logger: db.logger), interval: .milliseconds(100))]
        services.append(elector)
        services.append(Maintainer(elector: elector, tasks: tasks, logger: db.logger))
        return try await withRunningServices(services, logger: db.logger, body)
    }

    /// Waits until no video is processing and no reservation is held any more.
    func waitForVideos(timeout: Duration = .seconds(120)) async throws -> Bool {
        try await eventually(timeout: timeout) {
            try await db.scalar("""
                SELECT (SELECT count(*) FROM videos WHERE status = 'processing') + (SELECT count(*) FROM cost_reservations)
                """) == 0
        }
    }

    /// A request with test-friendly defaults.
    static func request(channelID: String, title: String = "Swift on the Server", duration: Int = 12, costLimit: Double = 1,
                        threshold: Int = 50, keywords: [String] = ["swift", "server"]) throws -> VideoRequest {
        try VideoRequest(channelID: channelID, title: title, description: "A short look at running Swift services.", scriptStyle: nil,
                         voiceID: nil, thumbnailStyle: nil, durationTarget: duration, keywords: keywords, costLimit: costLimit,
                         qualityThreshold: threshold, defaultCostLimit: 1)
    }

    /// The cost invariant for every video: the ledger sum is the video's `spent`, never
    /// above its `cost_limit`, and nothing stays reserved once it has finished.
    func expectCostInvariant(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let rows = try await db.client.query("""
            SELECT v.id, v.cost_limit, v.spent, v.reserved, v.status, coalesce((SELECT sum(amount) FROM cost_ledger l WHERE l.video_id = v.id), 0)::int8,
                   (SELECT count(*) FROM cost_reservations r WHERE r.video_id = v.id)
              FROM videos v
            """, logger: db.logger)
        for try await (id, limit, spent, reserved, status, ledger, holds) in rows.decode((String, Int64, Int64, Int64, String, Int64, Int64).self) {
            #expect(ledger == spent, "video \(id): ledger \(ledger) != spent \(spent)", sourceLocation: sourceLocation)
            #expect(ledger <= limit, "video \(id): ledger \(ledger) > limit \(limit)", sourceLocation: sourceLocation)
            if status != "processing" {
                #expect(reserved == 0 && holds == 0, "video \(id) (\(status)) still holds \(reserved)", sourceLocation: sourceLocation)
            }
        }
    }
}
