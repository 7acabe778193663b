import Foundation
import PostgresNIO
import Queue

extension PipelineStore {
    /// Failure codes a retry can mend: a stage that failed its attempts, a provider's error.
    /// Not a quality score below the threshold (every stage completed; the video would fail
    /// the same way) nor a cost limit reached (it would be refused again).
    public static let retryableFailures: Set<String> = ["stage_failed", "provider_error"]

    /// Sends a failed video back into its pipeline, once an operator has fixed what failed it
    /// (a provider that was down, a tool missing on the workers): the video is processing again
    /// with its error cleared, every stage that had not completed runs again as a new
    /// generation, and those whose prerequisites are complete are enqueued now, the rest
    /// following as usual. What it spent stays spent; every new call reserves afresh.
    ///
    /// Refused (changing nothing) unless the video failed with a `retryableFailures` code, its
    /// batch was not cancelled, and every job of its earlier attempt has ended (a stage asked
    /// to stop when the video failed may still be finishing). A batch the video belongs to that
    /// already reported `batch.completed` does not report it again.
    /// - Parameter audit: called in the same transaction with what was enqueued.
    /// - Returns: the stage jobs enqueued, by stage.
    /// - Throws: `QueueError(.invalidState)` when the video cannot run again now.
    public func retryFailed(videoID: String,
                            audit: @Sendable ([PipelineStage: Int64], PostgresConnection) async throws -> Void = { _, _ in })
        async throws -> [PipelineStage: Int64] {
        try await client.withRetryingTransaction(logger: logger) { connection in
            guard let video = try await lockVideo(videoID, on: connection) else {
                throw QueueError(.jobNotFound, "The video of this job no longer exists")
            }
            guard video.status == .failed else {
                throw QueueError(.invalidState, "The video is \(video.status.rawValue): only a failed video runs again")
            }
            let rows = try await connection.query("""
                SELECT v.user_id, coalesce(v.error_code, ''), (SELECT max(generation) FROM video_stages WHERE video_id = v.id),
                       EXISTS (SELECT 1 FROM batches b WHERE b.id = v.batch_id AND b.cancelled_at IS NOT NULL),
                       (SELECT min(j.id) FROM video_stages s JOIN jobs j ON j.id = s.job_id
                         WHERE s.video_id = v.id AND j.state NOT IN ('completed', 'cancelled', 'discarded'))
                  FROM videos v WHERE v.id = \(videoID)
                """, logger: logger)
            var found: (userID: String, code: String, generation: Int32, batchCancelled: Bool, unfinished: Int64?)?
            for try await row in rows.decode((String, String, Int32, Bool, Int64?).self) { found = row }
            guard let found else { throw QueueError(.jobNotFound, "The video of this job no longer exists") }
            guard Self.retryableFailures.contains(found.code) else {
                throw QueueError(.invalidState, "The video failed with \(found.code.isEmpty ? "no code" : found.code), which running it again cannot mend")
            }
            guard !found.batchCancelled else { throw QueueError(.invalidState, "The video's batch was cancelled") }
            if let unfinished = found.unfinished {
                throw QueueError(.invalidState, "Job \(unfinished) of the video's last attempt is still stopping: try again in a moment")
            }
            let generation = Int(found.generation) + 1
            let states = try await stageStates(videoID, on: connection)
            let completed = Set(states.filter { $0.value.status == .completed }.map(\.key))
            let again = PipelineStage.allCases.filter { states[$0] != nil && !completed.contains($0) }
            guard !again.isEmpty else { throw QueueError(.invalidState, "Every stage of the video completed: nothing runs again") }
            try await connection.query("""
                UPDATE videos SET status = 'processing', error_code = NULL, error_message = NULL, finished_at = NULL, updated_at = now()
                 WHERE id = \(videoID)
                """, logger: logger)
            try await connection.query("""
                UPDATE video_stages SET status = 'pending', generation = \(Int32(generation)), job_id = NULL, error = NULL,
                       started_at = NULL, finished_at = NULL
                 WHERE video_id = \(videoID) AND stage = ANY(\(again.map(\.rawValue)))
                """, logger: logger)
            // A video of one stage (a script, a voice) has no rows for the others.
            let ready = again.filter { $0.prerequisites.filter { states[$0] != nil }.allSatisfy(completed.contains) }
            let next = try ready.map {
                try StageJobArgs(videoID: videoID, userID: found.userID, stage: $0, generation: generation).job(priority: video.priority)
            }
            try await enqueue(next, videoID: videoID, on: connection)
            try await updateProgress(videoID, on: connection)
            try await DomainEvents.publishVideo(videoID, type: "video.progress", on: connection, logger: logger)
            let jobRows = try await connection.query("""
                SELECT stage, job_id FROM video_stages WHERE video_id = \(videoID) AND stage = ANY(\(ready.map(\.rawValue))) AND job_id IS NOT NULL
                """, logger: logger)
            var jobs: [PipelineStage: Int64] = [:]
            for try await (stage, jobID) in jobRows.decode((String, Int64).self) {
                jobs[try DatabaseValue.decode(stage, column: "video_stages.stage")] = jobID
            }
            try await audit(jobs, connection)
            return jobs
        }
    }
}
