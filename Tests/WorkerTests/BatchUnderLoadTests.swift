import Domain
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// Batches at their full size while workers run them: a replay returns the original batch
/// whatever has happened since, and cancelling a 1,000-video batch while stages finish never
/// fails (locks taken in one order; a deadlock victim is run again), leaving every
/// unfinished video cancelled with its reservations settled.
@Suite struct BatchUnderLoadTests {
    @Test func aReplayReturnsTheOriginalBatchAfterItUsedTheWholeAllowance() async throws {
        try await withDatabase { db in
            let user = try await db.createUser(tier: "free")
            let channel = try await db.createChannel(userID: user)
            let submission = VideoSubmission(client: db.client, plan: .offline, logger: db.logger)
            let requests = try (0..<10).map { try PipelineHarness.request(channelID: channel, title: "Allowance \($0)") }
            let options = try BatchOptions(idempotencyKey: "whole-month")
            let first = try await submission.submit(userID: user, requests, batch: options)
            #expect(!first.replayed)
            let replay = try await submission.submit(userID: user, requests, batch: options)
            #expect(replay.replayed && replay.batchID == first.batchID)
            #expect(replay.videos.map(\.videoID) == first.videos.map(\.videoID))
            // Without the key, the same request is a new submission, and the month is used up.
            await #expect(throws: (any Error).self) { try await submission.submit(userID: user, requests, batch: BatchOptions()) }
        }
    }

    @Test func cancellingAThousandVideoBatchWhileItsStagesRunAlwaysSucceeds() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: PipelineTests.pricedPlan())
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            try await harness.fleet.run(workers: 3, queues: PipelineFleet.queues(slots: 16)) {
                for round in 0..<3 {
                    let requests = try (0..<1000).map { try PipelineHarness.request(channelID: channel, title: "Round \(round) video \($0)") }
                    let batch = try #require(try await harness.submission.submit(userID: user, requests, batch: BatchOptions()).batchID)
                    // Let the workers get going: stages finish while the cancel runs.
                    let running = try await eventually(timeout: .seconds(60)) {
                        try await db.scalar("""
                            SELECT count(*) FROM video_stages s JOIN videos v ON v.id = s.video_id
                             WHERE v.batch_id = \(batch) AND s.status = 'completed'
                            """) >= 20
                    }
                    #expect(running)
                    let cancelled = try #require(try await harness.control.cancelBatch(id: batch, userID: user))
                    #expect(cancelled > 0)
                    #expect(try await db.scalar("""
                        SELECT count(*) FROM videos WHERE batch_id = \(batch) AND status NOT IN ('cancelled', 'completed', 'failed')
                        """) == 0, "round \(round): every unfinished video is cancelled")
                }
                let settled = try await eventually(timeout: .seconds(60)) {
                    try await db.scalar("SELECT count(*) FROM cost_reservations") == 0
                }
                #expect(settled, "every reservation of a stopped stage is settled")
            }
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE status = 'cancelled'") > 0)
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE reserved <> 0") == 0)
            try await harness.expectCostInvariant()
        }
    }
}
