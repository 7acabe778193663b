import Domain
import Foundation
import Providers
import TestSupport
import Testing
import Worker

/// What providers actually bill against the cost ceiling: the reserved worst case bounds
/// what they can bill, and a provider that bills more anyway (an overrun) is written to the
/// ledger as billed, stops the video when it passes the limit, and is alerted, never silent.
@Suite struct CostOverrunTests {
    static let plan: PipelinePlan = {
        var plan = PipelinePlan.offline
        plan.script = [ProviderChoice(provider: "openai", model: "gpt-4o-mini")]
        return plan
    }()

    @Test func aProviderBillingTenTimesItsWorstCaseStopsTheVideoAndIsRecorded() async throws {
        var faults = ProviderStub.Faults()
        faults.usageMultiplier = 10
        let stub = ProviderStub(faults: faults)
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: Self.plan)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            // The script's worst case (every prompt byte a token, max_tokens out) is about
            // $0.00014 at gpt-4o-mini's prices; tenfold completion tokens bill about $0.00030.
            let tight = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 0.0002))
            let roomy = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 1))
            try await stub.run { base in
                var providers = StageProviderSet.offline(storage: try harness.storage)
                providers.scriptWriters["openai"] = OpenAIChatScriptWriter(
                    endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "sk-test"),
                    http: ProviderHTTP(provider: "openai", timeout: .seconds(10), maximumAttempts: 1, baseDelay: .milliseconds(20)))
                try await harness.run(workers: 1, providers: providers) {
                    let finished = try await harness.waitForVideos()
                    #expect(finished)
                }
            }
            // The tight video: the ledger holds what was billed, above the reservation and the
            // limit; the video stopped there and the owner was told.
            let stopped = try #require(try await harness.videos.video(id: tight.videos[0].videoID, userID: user))
            #expect(stopped.status == .failed && stopped.errorCode == "cost_limit_exceeded")
            let overruns = try await db.scalar("""
                SELECT count(*) FROM cost_ledger WHERE video_id = \(stopped.id) AND stage = 'script' AND amount > reserved AND amount > 0
                """)
            #expect(overruns == 1)
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE id = \(stopped.id) AND spent > cost_limit") == 1)
            #expect(try await db.scalar("""
                SELECT count(*) FROM domain_events WHERE type = 'cost.limit_reached' AND data->>'video_id' = \(stopped.id)
                   AND (data->>'overrun')::boolean
                """) == 1)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(stopped.id) AND stage <> 'script'") == 0,
                    "nothing ran after the overrun")
            // The roomy video absorbed its overrun: recorded, and it went on.
            let finished = try #require(try await harness.videos.video(id: roomy.videos[0].videoID, userID: user))
            #expect(finished.status == .completed)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(finished.id) AND amount > reserved") == 1)
            try await harness.expectCostInvariant()
        }
    }

    /// Speech is reserved for what a provider can count: combining marks are characters to
    /// the provider although they make one grapheme cluster, so a budget that covers the
    /// clusters but not the characters stops the voice-over before any call.
    @Test func voiceTextFullOfCombiningMarksIsReservedForEveryCharacter() async throws {
        let marked = "a" + String(repeating: "\u{0301}", count: 50)
        #expect(marked.count == 1)
        #expect(UsageModel.billableCharacters(marked) == 51)
        #expect(UsageModel.billableCharacters("👍🏽") == 4, "two scalars, four UTF-16 units")
        var plan = PipelinePlan.offline
        plan.prices = PriceTable(asOf: "2026-12-01", prices: [
            .init(provider: "offline", model: "espeak-ng", unit: "character", usdPerUnit: 0.0005),
        ])
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: plan)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let text = String(repeating: marked + " ", count: 20)  // 40 clusters, 1,040 characters
            // $0.10 covers the 40 clusters ($0.02) and the estimate at submit, but not the
            // 1,040 characters ($0.52).
            let task = try await harness.submission.submitTask(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 0.1),
                                                               kind: .voice, inputText: text)
            try await harness.run(workers: 1) {
                let finished = try await harness.waitForVideos()
                #expect(finished)
            }
            let video = try #require(try await harness.videos.video(id: task.videos[0].videoID, userID: user))
            #expect(video.status == .failed && video.errorCode == "cost_limit_exceeded")
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE video_id = \(video.id)") == 0, "the voice was never called")
            try await harness.expectCostInvariant()
        }
    }
}
