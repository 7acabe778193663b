import Domain
import Foundation
import Providers
import Queue
import TestSupport
import Testing
import Worker

@Suite struct PipelineTests {
    @Test func aBatchRunsEndToEndIntoPlayableVideos() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let requests = try (0..<20).map { try PipelineHarness.request(channelID: channel, title: "Video number \($0)", duration: 20 + $0 % 10) }
            let submitted = try await harness.submission.submit(userID: user, requests, batch: BatchOptions(priority: "high"))
            #expect(submitted.videos.count == 20)
            try await harness.run(workers: 2) {
                // Twenty real encodes on a machine the other suites keep busy: a generous wait.
                let finished = try await harness.waitForVideos(timeout: .seconds(300))
                #expect(finished)
            }
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE status = 'completed'") == 20)
            let media = FFmpegMedia()
            for item in submitted.videos {
                let video = try #require(try await harness.videos.video(id: item.videoID, userID: user))
                #expect(video.progress == 100)
                #expect(video.stages.allSatisfy { $0.status == .completed })
                #expect((video.qualityScore ?? 0) >= 70, "\(video.quality ?? "")")
                let mp4 = try #require(video.artifacts.first { $0.kind == .video })
                let audio = try #require(video.artifacts.first { $0.kind == .audio })
                let file = harness.artifacts.appendingPathComponent(mp4.storageKey)
                let length = try await media.durationSeconds(of: file)
                #expect(abs(length - (audio.durationSeconds ?? 0)) < 0.25, "the MP4 plays as long as its narration")
                #expect(length > 10)
            }
            // One actual ledger row per stage, and never two rows for one attempt (an attempt that
            // failed mid-call on a busy machine leaves an `assumed` row of its own); every event once.
            let ledger = try await db.client.query("""
                SELECT string_agg(stage || '/' || basis || '/' || n, ', ') FROM (
                    SELECT stage, basis, count(*) AS n FROM cost_ledger GROUP BY 1, 2 ORDER BY 1, 2) t
                """, logger: db.logger)
            var breakdown = ""
            for try await text in ledger.decode(String?.self) { breakdown = text ?? "" }
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE basis = 'actual'") == 100, "\(breakdown)")
            #expect(try await db.scalar("SELECT count(*) FROM (SELECT 1 FROM cost_ledger GROUP BY job_id, attempt HAVING count(*) > 1) d") == 0)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'video.completed'") == 20)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'batch.completed'") == 1)
            try await harness.expectCostInvariant()
        }
    }

    @Test func aVideoBelowItsQualityThresholdRedoesItsWeakestStageOnceThenFails() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            // A perfect score is out of reach for the offline providers.
            let request = try PipelineHarness.request(channelID: channel, duration: 12, threshold: 100, keywords: ["swift"])
            let id = try await harness.submission.submit(userID: user, request).videos[0].videoID
            try await harness.run(workers: 1) {
                let finished = try await harness.waitForVideos()
                #expect(finished)
            }
            let video = try #require(try await harness.videos.video(id: id, userID: user))
            #expect(video.status == .failed)
            #expect(video.errorCode == "quality_below_threshold")
            let redone = try #require(video.regeneratedStage.flatMap(PipelineStage.init(rawValue:)))
            // The redone stage and everything after it ran twice; the rest once.
            for stage in PipelineStage.allCases {
                let runs = try await db.scalar("""
                    SELECT count(*) FROM jobs WHERE kind = \(stage.jobKind) AND args->>'video_id' = \(id) AND state = 'completed'
                    """)
                #expect(runs == (redone.downstream.contains(stage) ? 2 : 1), "\(stage)")
            }
            #expect(video.qualityScore != nil && video.quality != nil)
            try await harness.expectCostInvariant()
        }
    }

    /// Prices the offline providers so budgets bind: 1 µ$ per script character, 100 µ$ per
    /// voice character (a pricey "hd" model and the normal one), $0.01 per thumbnail.
    static func pricedPlan() -> PipelinePlan {
        var plan = PipelinePlan.offline
        plan.voice = [ProviderChoice(provider: "offline", model: "espeak-hd"), ProviderChoice(provider: "offline", model: "espeak-ng")]
        plan.prices = PriceTable(asOf: "2026-11-29", prices: [
            .init(provider: "offline", model: "script-template", unit: "character", usdPerUnit: 0.000001),
            .init(provider: "offline", model: "espeak-hd", unit: "character", usdPerUnit: 0.001),
            .init(provider: "offline", model: "espeak-ng", unit: "character", usdPerUnit: 0.0001),
            .init(provider: "offline", model: "ffmpeg-title-card", unit: "image", usdPerUnit: 0.01),
        ])
        return plan
    }

    @Test func aTightBudgetFallsBackToTheCheaperVoiceOrFailsWithoutCalling() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: Self.pricedPlan())
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            // The 12 s script has about 190 characters: hd voice ≈ $0.19, normal ≈ $0.019, and with the
            // thumbnail the whole video ≈ $0.0293. The estimate at submit (≈ $0.0282) lets $0.029 in;
            // at run time voice and thumbnail together no longer fit.
            let roomy = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 1))
            let tight = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 0.08))
            let starved = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 0.029))
            try await harness.run(workers: 1) {
                let finished = try await harness.waitForVideos()
                #expect(finished)
            }
            let roomyVideo = try #require(try await harness.videos.video(id: roomy.videos[0].videoID, userID: user))
            #expect(roomyVideo.status == .completed)
            #expect(roomyVideo.stages.first { $0.stage == .voice }?.model == "espeak-hd")
            let tightVideo = try #require(try await harness.videos.video(id: tight.videos[0].videoID, userID: user))
            #expect(tightVideo.status == .completed)
            #expect(tightVideo.stages.first { $0.stage == .voice }?.model == "espeak-ng", "downgraded to the cheaper voice")
            let starvedVideo = try #require(try await harness.videos.video(id: starved.videos[0].videoID, userID: user))
            #expect(starvedVideo.status == .failed)
            #expect(starvedVideo.errorCode == "cost_limit_exceeded")
            #expect(try await db.scalar("""
                SELECT count(*) FROM domain_events WHERE type = 'cost.limit_reached' AND data->>'video_id' = \(starvedVideo.id)
                """) == 1)
            // Voice and thumbnail race for the last cents: whichever lost never called its provider.
            let calls = try await db.scalar("""
                SELECT count(*) FROM cost_ledger WHERE video_id = \(starvedVideo.id) AND stage IN ('voice', 'thumbnail')
                """)
            #expect(calls <= 1)
            #expect(try await db.scalar("SELECT count(*) FROM artifacts WHERE video_id = \(starvedVideo.id) AND kind = 'video'") == 0)
            try await harness.expectCostInvariant()
        }
    }

    @Test func concurrentReservationsNeverPassTheLimit() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let video = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 1)).videos[0].videoID
            let ledger = CostLedger(client: db.client, logger: db.logger)
            let quote = CostQuote(choice: ProviderChoice(provider: "openai", model: "gpt-4o"), usage: Usage([:]), amount: Money(dollars: 0.03),
                                  unit: "token_out", units: 3000, unitPrice: 0.00001)
            let jobs = try await db.runningJobs(60)
            let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for job in jobs {
                    group.addTask {
                        try await ledger.reserve(jobID: job, attempt: 1, videoID: video, stage: .script, quote: quote) == .reserved
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(granted == 33, "$1 holds 33 reservations of 3 cents")
            #expect(try await db.scalar("SELECT reserved FROM videos WHERE id = \(video)") == 990_000)
            // Their workers die: no running job holds them, and each is settled as spent (the
            // worst case) exactly once.
            #expect(try await ledger.settleAbandoned(videoID: video) == 0, "held by running jobs")
            try await db.abandonJobs()
            #expect(try await ledger.settleAbandoned(videoID: video) == 33)
            #expect(try await ledger.settleAbandoned(videoID: video) == 0)
            #expect(try await db.scalar("SELECT spent FROM videos WHERE id = \(video)") == 990_000)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE basis = 'assumed'") == 33)
            try await harness.expectCostInvariant()
        }
    }
}

/// Cancelling a batch stops the stages that are running, not only the queued ones.
@Suite struct PipelineCancellationTests {
    @Test func cancellingABatchStopsItsRunningStagesAndSettlesTheirReservations() async throws {
        var faults = ProviderStub.Faults()
        faults.slowEvery = 1
        faults.slowDelay = .seconds(60)
        let stub = ProviderStub(faults: faults)
        var plan = PipelinePlan.offline
        plan.script = [ProviderChoice(provider: "openai", model: "gpt-4o-mini")]
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: plan)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let requests = try (0..<3).map { try PipelineHarness.request(channelID: channel, title: "Slow \($0)") }
            let batch = try #require(try await harness.submission.submit(userID: user, requests, batch: BatchOptions()).batchID)
            try await stub.run { base in
                var providers = StageProviderSet.offline(storage: try harness.storage)
                providers.scriptWriters["openai"] = OpenAIChatScriptWriter(
                    endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "k"), http: ProviderHTTP(provider: "openai", timeout: .seconds(120)))
                try await harness.run(workers: 1, providers: providers) {
                    // All three scripts are in flight at the stub, each holding a reservation.
                    let inFlight = try await eventually(timeout: .seconds(30)) {
                        try await db.scalar("SELECT count(*) FROM cost_reservations") == 3 && stub.requests.count == 3
                    }
                    #expect(inFlight)
                    #expect(try await harness.control.cancelBatch(id: batch, userID: user) == 3)
                    let stopped = try await eventually(timeout: .seconds(30)) {
                        try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'cancelled'") == 3
                    }
                    #expect(stopped, "the running stages stopped")
                    let settled = try await eventually(timeout: .seconds(30)) {
                        try await db.scalar("SELECT count(*) FROM cost_reservations") == 0
                    }
                    #expect(settled)
                }
            }
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE status = 'cancelled'") == 3)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE basis = 'assumed'") == 3, "interrupted calls count as spent")
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'batch.completed'") == 1)
            try await harness.expectCostInvariant()
        }
    }
}
