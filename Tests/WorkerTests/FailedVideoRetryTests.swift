import Domain
import Foundation
import Providers
import Queue
import Synchronization
import TestSupport
import Testing
import Worker

/// An operator's retry of a failed video's job runs the video again from where it stopped.
@Suite struct FailedVideoRetryTests {
    /// Speech that fails while `broken` is set (a provider that is down), offline speech otherwise.
    final class FlakyVoice: VoiceSynthesizer {
        let broken = Atomic<Bool>(true)
        let calls = Atomic<Int>(0)
        let voice = EspeakVoice()
        var contentType: String { voice.contentType }

        func synthesize(text: String, voiceID: String, model: String, to file: URL) async throws -> Usage {
            calls.add(1, ordering: .relaxed)
            if broken.load(ordering: .relaxed) { throw URLError(.cannotConnectToHost) }
            return try await voice.synthesize(text: text, voiceID: voiceID, model: model, to: file)
        }
    }

    @Test func retryingAFailedVideosStageJobRunsTheVideoAgainFromThatStage() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let id = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel)).videos[0].videoID
            let voice = FlakyVoice()
            var providers = StageProviderSet.offline(storage: try harness.storage)
            providers.voices["offline"] = voice
            let failedInTime = try await harness.run(workers: 1, providers: providers) { try await harness.waitForVideos() }
            #expect(failedInTime)
            let failed = try #require(try await harness.videos.video(id: id, userID: user))
            #expect(failed.status == .failed && failed.errorCode == "stage_failed")
            #expect(voice.calls.load(ordering: .relaxed) == 5)
            let voiceJobText = try await db.text("SELECT id::text FROM jobs WHERE kind = 'video.voice' AND args->>'video_id' = \(id)")
            let voiceJob = try #require(voiceJobText.flatMap { Int64($0) })
            // The last attempt's own failure ends the job (discarded, every attempt's error kept),
            // not the video's failure cancelling it.
            #expect(try await db.text("SELECT state FROM jobs WHERE id = \(voiceJob)") == "discarded")
            #expect(try await db.scalar("SELECT jsonb_array_length(errors) FROM jobs WHERE id = \(voiceJob)") == 5)
            let scriptRuns = try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'video.script' AND state = 'completed'")

            // The provider is back; an operator retries the failed job.
            voice.broken.store(false, ordering: .relaxed)
            let actions = OperatorActions.fleet(actor: .commandLine(login: "on-call"), client: db.client, logger: db.logger)
            let successor = try await actions.retry(job: voiceJob)
            #expect(successor.kind == "video.voice" && successor.state == .available && successor.id != voiceJob)
            let resumed = try #require(try await harness.videos.video(id: id, userID: user))
            #expect(resumed.status == .processing && resumed.errorCode == nil)
            let completedInTime = try await harness.run(workers: 1, providers: providers) { try await harness.waitForVideos() }
            #expect(completedInTime)
            let video = try #require(try await harness.videos.video(id: id, userID: user))
            #expect(video.status == .completed, "\(video.errorCode ?? "") \(video.errorMessage ?? "")")
            #expect(try await db.text("SELECT state FROM jobs WHERE id = \(successor.id)") == "completed")
            // The script, which had completed, did not run again.
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'video.script' AND state = 'completed'") == scriptRuns)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'video.completed'") == 1)
            try await harness.expectCostInvariant()
            let audit = try await db.text("""
                SELECT (details->>'job') || ' ' || (details->>'video_id') FROM operator_audit WHERE action = 'job.retry' AND target = \(String(voiceJob))
                """)
            #expect(audit == "\(successor.id) \(id)")

            // Only a failed video runs again: a retry of a completed one's job is refused, changing nothing.
            await #expect(throws: QueueError.self) { try await actions.retry(job: voiceJob) }
            #expect(try await harness.videos.video(id: id, userID: user)?.status == .completed)
            // Nor one whose failure a new run cannot mend (below its quality threshold, every stage done).
            try await db.client.query("UPDATE videos SET status = 'failed', error_code = 'quality_below_threshold' WHERE id = \(id)",
                                      logger: db.logger)
            await #expect(throws: QueueError.self) { try await actions.retry(job: successor.id) }
            #expect(try await db.text("SELECT status FROM videos WHERE id = \(id)") == "failed")
            #expect(try await db.scalar("SELECT count(*) FROM operator_audit WHERE action = 'job.retry'") == 1)
        }
    }
}
