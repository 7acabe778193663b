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

/// The pipeline fleet of TestSupport plus the domain services and checks these tests use.
struct PipelineHarness {
    let fleet: PipelineFleet
    var db: TestDatabase { fleet.db }
    var artifacts: URL { fleet.artifacts }

    init(db: TestDatabase, plan: PipelinePlan = .offline) throws {
        self.fleet = PipelineFleet(db: db, plan: plan)
    }

    var storage: FileArtifactStorage { get throws { try fleet.storage } }
    var submission: VideoSubmission { VideoSubmission(client: db.client, plan: fleet.plan, logger: db.logger) }
    var videos: VideoRepository { VideoRepository(client: db.client, logger: db.logger) }
    var pipeline: PipelineStore { PipelineStore(client: db.client, logger: db.logger) }
    var control: VideoControl { VideoControl(pipeline: pipeline) }

    func run<T: Sendable>(workers count: Int = 2, providers: StageProviderSet? = nil, _ body: () async throws -> T) async throws -> T {
        try await fleet.run(workers: count, providers: providers, body)
    }

    func waitForVideos(timeout: Duration = .seconds(120)) async throws -> Bool {
        try await fleet.waitForVideos(timeout: timeout)
    }

    /// A request with test-friendly defaults.
    static func request(channelID: String, title: String = "Swift on the Server", duration: Int = 12, costLimit: Double = 1,
                        threshold: Int = 50, keywords: [String] = ["swift", "server"]) throws -> VideoRequest {
        try VideoRequest(channelID: channelID, title: title, description: "A short look at running Swift services.", scriptStyle: nil,
                         voiceID: nil, thumbnailStyle: nil, durationTarget: duration, keywords: keywords, costLimit: costLimit,
                         qualityThreshold: threshold, defaultCostLimit: 1)
    }

    /// The cost invariant for every video: the ledger sum is the video's `spent`, never
    /// above its `cost_limit` unless a provider billed above its reservation (an overrun),
    /// and then the video stopped with `cost_limit_exceeded` and `cost.limit_reached` was
    /// written; nothing stays reserved once it has finished.
    func expectCostInvariant(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let rows = try await db.client.query("""
            SELECT v.id, v.cost_limit, v.spent, v.reserved, v.status, coalesce((SELECT sum(amount) FROM cost_ledger l WHERE l.video_id = v.id), 0)::int8,
                   (SELECT count(*) FROM cost_reservations r WHERE r.video_id = v.id),
                   EXISTS (SELECT 1 FROM cost_ledger l WHERE l.video_id = v.id AND l.amount > l.reserved)
                   AND v.status = 'failed' AND v.error_code = 'cost_limit_exceeded'
                   AND EXISTS (SELECT 1 FROM domain_events e WHERE e.type = 'cost.limit_reached' AND e.data->>'video_id' = v.id)
              FROM videos v
            """, logger: db.logger)
        for try await (id, limit, spent, reserved, status, ledger, holds, alertedOverrun)
            in rows.decode((String, Int64, Int64, Int64, String, Int64, Int64, Bool).self) {
            #expect(ledger == spent, "video \(id): ledger \(ledger) != spent \(spent)", sourceLocation: sourceLocation)
            #expect(ledger <= limit || alertedOverrun, "video \(id): ledger \(ledger) > limit \(limit) silently", sourceLocation: sourceLocation)
            if status != "processing" {
                #expect(reserved == 0 && holds == 0, "video \(id) (\(status)) still holds \(reserved)", sourceLocation: sourceLocation)
            }
        }
    }
}
