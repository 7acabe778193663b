import Domain
import Foundation
import Queue
import TestSupport
import Testing

/// A worker whose lease ran out while its handler was still busy can be handed the same job
/// again as a new attempt. The stale attempt must then own nothing: not the job's completion,
/// not the stage's state, not the ledger row of the attempt that replaced it.
@Suite struct StaleAttemptTests {
    @Test func aStaleAttemptOfTheSameWorkerNeitherCompletesTheJobNorReopensItsStage() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let jobs = JobStore(client: db.client, logger: db.logger)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let video = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel)).videos[0].videoID

            // Attempt 1 is claimed, its lease runs out, the rescuer hands the job back and the
            // same worker claims it again as attempt 2.
            let first = try #require(try await jobs.claim(queue: PipelineStage.script.queue, workerID: "w", limit: 1, lease: .seconds(60)).first)
            try await db.client.query("UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id = \(first.id)", logger: db.logger)
            #expect(try await JobRescuer(store: jobs, interval: .seconds(1)).runOnce() == 1)
            _ = try await JobScheduler(store: jobs, interval: .seconds(1)).runOnce()
            let second = try #require(try await jobs.claim(queue: PipelineStage.script.queue, workerID: "w", limit: 1, lease: .seconds(60)).first)
            #expect(second.id == first.id && second.attempt == first.attempt + 1)
            let stale = first.lease(workerID: "w")
            let current = second.lease(workerID: "w")

            // The queue refuses every guarded write of the stale lease and takes the current one's.
            #expect(try await jobs.extendLeases([stale, current], by: .seconds(60)) == [current: false])
            let retry = JobTransition(state: .available, runAt: nil, error: JobErrorEntry(attempt: 1, at: Date(), error: "late"), refundsAttempt: false)
            #expect(try await !jobs.finish(stale, transition: retry))
            #expect(try await jobs.complete([stale]).isEmpty)

            // Money: only the current attempt may hold any for the stage.
            let args = try second.decodeArgs(StageJobArgs.self)
            let choice = ProviderChoice(provider: "offline", model: "script-template")
            let free = CostQuote(choice: choice, usage: Usage([:]), amount: .zero, unit: "call", units: 1, unitPrice: 0)
            let ledger = CostLedger(client: db.client, logger: db.logger)
            #expect(try await ledger.reserve(jobID: stale.jobID, attempt: stale.attempt, videoID: video, stage: .script, quote: free) == .leaseLost)
            #expect(try await ledger.reserve(jobID: current.jobID, attempt: current.attempt, videoID: video, stage: .script, quote: free) == .reserved)

            // The stage: only the current attempt marks it started, completes it, and once it
            // is completed no attempt turns it back to running.
            #expect(try await !harness.pipeline.markStarted(args, lease: stale, choice: choice))
            #expect(try await harness.pipeline.markStarted(args, lease: current, choice: choice))
            try await harness.pipeline.completeStage(StageOutcome(args: args, jobID: current.jobID, attempt: current.attempt,
                                                                  workerID: "w", charge: free, artifacts: []))
            #expect(try await !harness.pipeline.markStarted(args, lease: stale, choice: choice))
            await #expect(throws: StageLostError.self) {
                try await harness.pipeline.completeStage(StageOutcome(args: args, jobID: stale.jobID, attempt: stale.attempt,
                                                                      workerID: "w", charge: free, artifacts: []))
            }
            #expect(try await db.scalar("SELECT count(*) FROM video_stages WHERE video_id = \(video) AND stage = 'script' AND status = 'completed'") == 1)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(video)") == 1)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(video) AND attempt = \(Int32(current.attempt))") == 1)
            #expect(try await jobs.job(id: first.id)?.state == .completed)
        }
    }

    /// A claim released at shutdown gives its attempt back by raising the allowance, never by
    /// lowering the counter: the next claim has a number of its own, so the released attempt's
    /// hold (kept, since its call may have gone out) is settled as abandoned, not mistaken for
    /// the new attempt's.
    @Test func aReleasedClaimsNumberIsNeverHandedOutAgain() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let jobs = JobStore(client: db.client, logger: db.logger)
            let ledger = CostLedger(client: db.client, logger: db.logger)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let video = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel)).videos[0].videoID
            let first = try #require(try await jobs.claim(queue: PipelineStage.script.queue, workerID: "w", limit: 1, lease: .seconds(60)).first)
            let quote = CostQuote(choice: ProviderChoice(provider: "openai", model: "gpt-4o"), usage: Usage([:]), amount: Money(dollars: 0.05),
                                  unit: "call", units: 1, unitPrice: 0.05)
            #expect(try await ledger.reserve(jobID: first.id, attempt: first.attempt, videoID: video, stage: .script, quote: quote) == .reserved)
            let release = JobTransition(state: .available, runAt: nil, error: nil, refundsAttempt: true)
            #expect(try await jobs.finish(first.lease(workerID: "w"), transition: release))
            let second = try #require(try await jobs.claim(queue: PipelineStage.script.queue, workerID: "w", limit: 1, lease: .seconds(60)).first)
            #expect(second.attempt == first.attempt + 1 && second.maxAttempts == first.maxAttempts + 1)
            #expect(try await ledger.settleAbandoned(videoID: video) == 1, "the released claim's hold")
            #expect(try await ledger.reserve(jobID: second.id, attempt: second.attempt, videoID: video, stage: .script, quote: quote) == .reserved)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(video) AND basis = 'assumed'") == 1)
        }
    }
}
