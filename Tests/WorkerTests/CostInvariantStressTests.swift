import Domain
import Foundation
import Providers
import Queue
import TestSupport
import Testing
import Worker

/// The cost ceiling under stress: 120 videos with tight random budgets on priced providers
/// (the OpenAI shapes, served by a stub that fails, rate-limits and loses answers), 8 workers
/// — one of them a real process killed mid-stage. Whatever happened, for every video the
/// ledger sum is its `actual_cost`, never above its `cost_limit`, and nothing stays reserved.
@Suite struct CostInvariantStressTests {
    static let plan: PipelinePlan = {
        var plan = PipelinePlan.offline
        plan.script = [ProviderChoice(provider: "openai", model: "gpt-4o"), ProviderChoice(provider: "openai", model: "gpt-4o-mini")]
        plan.voice = [ProviderChoice(provider: "openai", model: "tts-1-hd"), ProviderChoice(provider: "openai", model: "tts-1")]
        plan.thumbnail = [ProviderChoice(provider: "openai", model: "dall-e-3"), ProviderChoice(provider: "offline", model: "ffmpeg-title-card")]
        return plan
    }()

    @Test func theCeilingHoldsThroughFailuresRetriesAndAKilledWorker() async throws {
        var faults = ProviderStub.Faults()
        faults.rateLimitFirst = 3
        faults.serverErrorEvery = 11
        faults.slowEvery = 17
        faults.slowDelay = .seconds(3)
        let stub = ProviderStub(faults: faults)
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db, plan: Self.plan)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            var generator = SystemRandomNumberGenerator()
            let requests = try (0..<120).map { index -> VideoRequest in
                var request = try VideoRequest(channelID: channel, title: "Stress video \(index)", description: nil, scriptStyle: nil,
                                               voiceID: nil, thumbnailStyle: nil, durationTarget: 10 + index % 10, keywords: ["queue"],
                                               costLimit: 1, qualityThreshold: 0, defaultCostLimit: 1)
                // Tight: from the bare estimate to a little over what the preferred providers need.
                let estimate = Self.plan.estimate(request)
                request.costLimit = estimate + Money(micros: Int64.random(in: 0...45_000, using: &generator))
                return request
            }
            let submission = VideoSubmission(client: db.client, plan: Self.plan, logger: db.logger)
            _ = try await submission.submit(userID: user, requests, batch: BatchOptions())
            try await stub.run { base in
                let endpoint = ProviderEndpoint(baseURL: base + "/v1", apiKey: "sk-stress")
                let http = ProviderHTTP(provider: "openai", timeout: .milliseconds(800), maximumAttempts: 3, baseDelay: .milliseconds(20))
                var providers = StageProviderSet.offline(storage: try fleet.storage)
                providers.scriptWriters["openai"] = OpenAIChatScriptWriter(endpoint: endpoint, http: http)
                providers.voices["openai"] = OpenAISpeechVoice(endpoint: endpoint, http: http)
                providers.thumbnails["openai"] = OpenAIImageThumbnail(endpoint: endpoint, http: http)
                let queues = PipelineStage.allCases.map { "\($0.queue)=2" }.joined(separator: ",")
                let child = try ChildProcess.ytempire(
                    ["worker", "--queues", queues, "--lease", "2s", "--grace", "1s", "--worker-id", "doomed-worker"],
                    databaseURL: db.urlString,
                    environment: [
                        "YTEMPIRE_ARTIFACT_DIR": fleet.artifacts.path, "YTEMPIRE_OPENAI_API_KEY": "sk-stress",
                        "YTEMPIRE_OPENAI_BASE_URL": base + "/v1", "YTEMPIRE_PROVIDER_TIMEOUT": "1",
                        "YTEMPIRE_SCRIPT_PROVIDERS": "openai/gpt-4o,openai/gpt-4o-mini", "YTEMPIRE_VOICE_PROVIDERS": "openai/tts-1-hd,openai/tts-1",
                        "YTEMPIRE_THUMBNAIL_PROVIDERS": "openai/dall-e-3,offline/ffmpeg-title-card", "LOG_LEVEL": "warning",
                    ])
                try await fleet.run(workers: 7, providers: providers) {
                    // Kill the child while it holds work.
                    let busy = try await eventually(timeout: .seconds(60)) {
                        try await db.scalar("SELECT count(*) FROM jobs WHERE worker_id = 'doomed-worker' AND state = 'running'") > 0
                    }
                    #expect(busy, "the child worker took work: \(child.output.suffix(500))")
                    child.signal(SIGKILL)
                    _ = await child.waitForExit()
                    let finished = try await fleet.waitForVideos(timeout: .seconds(400))
                    #expect(finished)
                }
            }
            // Every video ended, and the books balance.
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE status = 'processing'") == 0)
            let violations = try await db.scalar("""
                SELECT count(*) FROM videos v
                 WHERE v.spent > v.cost_limit OR v.reserved <> 0
                    OR v.spent <> coalesce((SELECT sum(amount) FROM cost_ledger l WHERE l.video_id = v.id), 0)
                """)
            #expect(violations == 0)
            #expect(try await db.scalar("SELECT count(*) FROM cost_reservations") == 0)
            // One ledger row per attempt at most; the lost answers and the killed worker's calls
            // were counted as spent.
            #expect(try await db.scalar("SELECT count(*) FROM (SELECT job_id, attempt FROM cost_ledger GROUP BY 1, 2 HAVING count(*) > 1) d") == 0)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE basis = 'assumed'") > 0)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind LIKE 'video.%' AND attempt > 1") > 0)
            let completed = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'completed'")
            let failed = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'failed'")
            #expect(completed > 0)
            #expect(completed + failed == 120)
            // Completed videos have playable output.
            let unfinishedOutput = try await db.scalar("""
                SELECT count(*) FROM videos v WHERE v.status = 'completed'
                   AND NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.video_id = v.id AND a.kind = 'video')
                """)
            #expect(unfinishedOutput == 0)
        }
    }
}
