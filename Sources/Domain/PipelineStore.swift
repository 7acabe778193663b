import Foundation
import Logging
import PostgresNIO
import Queue

/// The arguments of every stage job (its job's owner is `user_id`, so account deletion finds the work);
/// `generation` counts redos after a failed review (each has its own unique key).
public struct StageJobArgs: Codable, Sendable, Equatable {
    public var videoID: String
    public var userID: String
    public var stage: PipelineStage
    public var generation: Int

    public init(videoID: String, userID: String, stage: PipelineStage, generation: Int) {
        self.videoID = videoID
        self.userID = userID
        self.stage = stage
        self.generation = generation
    }

    enum CodingKeys: String, CodingKey {
        case videoID = "video_id", userID = "user_id", stage, generation
    }

    /// The queue job for this stage, unique per video, stage and generation so a retried
    /// transaction can never enqueue the same stage twice.
    public func job(priority: Int) throws -> NewJob {
        try NewJob(kind: stage.jobKind, encoding: self, queue: stage.queue, priority: priority, maxAttempts: 5,
                   uniqueKey: "video:\(videoID):\(stage.rawValue):\(generation)", owner: userID)
    }
}

/// What a stage produced, written by `PipelineStore.completeStage` in one transaction.
public struct StageOutcome: Sendable {
    public var args: StageJobArgs
    public var jobID: Int64
    public var attempt: Int
    public var workerID: String
    /// What the call cost (a zero-priced quote for free providers): one ledger row.
    public var charge: CostQuote
    public var artifacts: [Artifact]

    public init(args: StageJobArgs, jobID: Int64, attempt: Int, workerID: String, charge: CostQuote, artifacts: [Artifact]) {
        self.args = args
        self.jobID = jobID
        self.attempt = attempt
        self.workerID = workerID
        self.charge = charge
        self.artifacts = artifacts
    }

    /// The claim the attempt ran under, which its completion names.
    public var lease: JobLease { JobLease(jobID: jobID, attempt: attempt, workerID: workerID) }
}

/// The outcome of a review.
public enum ReviewVerdict: Sendable, Equatable {
    case passed
    /// Below the threshold: redo this stage (and what follows it) once.
    case regenerate(PipelineStage)
    case failed
}

/// A stage's job was taken from this worker (rescued, cancelled) before it could record its
/// result; the transaction rolled back and nothing was written.
public struct StageLostError: Error, CustomStringConvertible {
    public var jobID: Int64
    public var description: String { "job \(jobID) is no longer running on this worker; its result was not recorded" }
}

/// The pipeline's writes: a stage starting, a stage completing with its successors, a review's
/// verdict, a video failing. Each completion is one transaction with the job's own completion.
public struct PipelineStore: Sendable {
    public let client: PostgresClient
    public let jobs: JobStore
    public let ledger: CostLedger
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.jobs = JobStore(client: client, logger: logger)
        self.ledger = CostLedger(client: client, logger: logger)
        self.logger = logger
    }

    /// Records that an attempt of a stage started and publishes the video's progress.
    ///
    /// Only the attempt that holds the job's lease may mark its stage, and never once the
    /// stage's generation is completed or cancelled: a stale attempt (its lease ran out while
    /// it was busy, and a newer attempt finished the stage) must not turn it back to running.
    /// - Returns: false when `lease` no longer holds the job or the stage is over; the caller
    ///   must not call its provider.
    public func markStarted(_ args: StageJobArgs, lease: JobLease, choice: ProviderChoice) async throws -> Bool {
        try await client.withRetryingTransaction(logger: logger) { connection in
            // Lock order everywhere: the video row, then its stages and jobs (a cancellation
            // takes them so too; the other way round the two deadlock).
            _ = try await lockVideo(args.videoID, on: connection)
            return try await markStarted(args, lease: lease, choice: choice, on: connection)
        }
    }

    private func markStarted(_ args: StageJobArgs, lease: JobLease, choice: ProviderChoice, on connection: PostgresConnection) async throws -> Bool {
        let rows = try await connection.query("""
            WITH s AS (
                UPDATE video_stages SET status = 'running', job_id = \(lease.jobID), attempt = \(Int32(lease.attempt)),
                       provider = \(choice.provider), model = \(choice.model), started_at = now(), finished_at = NULL, error = NULL
                 WHERE video_id = \(args.videoID) AND stage = \(args.stage.rawValue) AND generation = \(Int32(args.generation))
                   AND status NOT IN ('completed', 'cancelled')
                   AND EXISTS (SELECT 1 FROM jobs WHERE id = \(lease.jobID) AND attempt = \(Int32(lease.attempt))
                                                    AND worker_id = \(lease.workerID) AND state = 'running')
                RETURNING video_id
            ), v AS (
                UPDATE videos SET stage = \(args.stage.rawValue), updated_at = now()
                 WHERE id IN (SELECT video_id FROM s) AND status = 'processing'
                RETURNING id, user_id, channel_id, status, progress, spent, reserved
            )
            SELECT (SELECT count(*) FROM s),
                   (SELECT count(pg_notify(\(DomainEvents.liveChannel), json_build_object(
                       'type', 'video.progress', 'video_id', id, 'user_id', user_id, 'channel_id', channel_id, 'status', status,
                       'stage', \(args.stage.rawValue)::text, 'progress', progress, 'spent', spent / 1e6, 'reserved', reserved / 1e6)::text))
                      FROM v)
            """, logger: logger)
        for try await (marked, _) in rows.decode((Int64, Int64).self) { return marked > 0 }
        return false
    }

    /// Records a completed stage: the ledger row, the artifacts, the stage's state and the
    /// video's progress, the successors whose prerequisites are now all complete, and the
    /// job's completion — all or nothing.
    /// - Throws: `StageLostError` when the job is no longer this worker's.
    /// A deadlock or serialization failure runs the whole transaction again: the call was
    /// billed, so its ledger row must not be given up for a transient conflict.
    public func completeStage(_ outcome: StageOutcome) async throws {
        let args = outcome.args
        try await client.withRetryingTransaction(logger: logger) { connection in
            // Lock order everywhere: the video row, then its jobs (cancellation takes them so too).
            let video = try await lockVideo(args.videoID, on: connection)
            guard try await jobs.complete(outcome.lease, on: connection) else {
                throw StageLostError(jobID: outcome.jobID)
            }
            let settlement = try await ledger.settle(jobID: outcome.jobID, attempt: outcome.attempt, videoID: args.videoID,
                                                     userID: args.userID, stage: args.stage, charge: outcome.charge, on: connection)
            let cost = settlement.amount
            try await connection.query("""
                UPDATE video_stages SET status = 'completed', cost = cost + \(cost.micros), finished_at = now()
                 WHERE video_id = \(args.videoID) AND stage = \(args.stage.rawValue) AND generation = \(Int32(args.generation))
                """, logger: logger)
            for artifact in outcome.artifacts {
                try await connection.query("""
                    INSERT INTO artifacts (video_id, kind, storage_key, content_type, size_bytes, duration_seconds)
                    VALUES (\(args.videoID), \(artifact.kind.rawValue), \(artifact.storageKey), \(artifact.contentType), \(artifact.sizeBytes),
                            \(artifact.durationSeconds))
                    ON CONFLICT (video_id, kind) DO UPDATE
                       SET storage_key = excluded.storage_key, content_type = excluded.content_type, size_bytes = excluded.size_bytes,
                           duration_seconds = excluded.duration_seconds, created_at = now()
                    """, logger: logger)
            }
            guard video?.status == .processing else { return }
            if settlement.passedLimit {
                try await stopForOverrun(args, settlement: settlement, sparing: outcome.jobID, on: connection)
                return
            }
            let stages = try await stageStates(args.videoID, on: connection)
            var next: [NewJob] = []
            for successor in args.stage.successors
            where stages[successor]?.status == .pending && successor.prerequisites.allSatisfy({ stages[$0]?.status == .completed }) {
                let generation = stages[successor]?.generation ?? args.generation
                next.append(try StageJobArgs(videoID: args.videoID, userID: args.userID, stage: successor, generation: generation)
                    .job(priority: video?.priority ?? 2))
            }
            try await enqueue(next, videoID: args.videoID, on: connection)
            try await updateProgress(args.videoID, on: connection)
            if video?.kind != .video, stages.values.allSatisfy({ $0.status == .completed }) {
                // A processing task is done when its stage is.
                try await finishVideo(args.videoID, status: .completed, errorCode: nil, message: nil, on: connection)
                return
            }
            try await DomainEvents.publishVideo(args.videoID, type: "video.progress", on: connection, logger: logger)
        }
    }

    /// Records a review: its score and parts, then completes the video, redoes one stage
    /// (at most once per video), or fails it with `quality_below_threshold`.
    /// - Throws: `StageLostError` when the job is no longer this worker's.
    public func finishReview(_ outcome: StageOutcome, score: Int, partsJSON: String, verdict: ReviewVerdict) async throws {
        let args = outcome.args
        try await client.withRetryingTransaction(logger: logger) { connection in
            // Lock order everywhere: the video row, then its jobs (cancellation takes them so too).
            let video = try await lockVideo(args.videoID, on: connection)
            guard try await jobs.complete(outcome.lease, on: connection) else {
                throw StageLostError(jobID: outcome.jobID)
            }
            let settlement = try await ledger.settle(jobID: outcome.jobID, attempt: outcome.attempt, videoID: args.videoID,
                                                     userID: args.userID, stage: args.stage, charge: outcome.charge, on: connection)
            if settlement.passedLimit, video?.status == .processing {
                try await stopForOverrun(args, settlement: settlement, sparing: outcome.jobID, on: connection)
                return
            }
            try await connection.query("""
                UPDATE video_stages SET status = 'completed', finished_at = now()
                 WHERE video_id = \(args.videoID) AND stage = 'review'
                """, logger: logger)
            try await connection.query("""
                UPDATE videos SET quality_score = \(Int32(score)), quality = \(partsJSON)::jsonb, updated_at = now() WHERE id = \(args.videoID)
                """, logger: logger)
            guard let video, video.status == .processing else { return }
            switch verdict {
            case .passed:
                try await finishVideo(args.videoID, status: .completed, errorCode: nil, message: nil, on: connection)
            case .regenerate(let stage):
                let generation = args.generation + 1
                try await connection.query("""
                    UPDATE video_stages SET status = 'pending', generation = \(Int32(generation)), job_id = NULL, error = NULL,
                           started_at = NULL, finished_at = NULL
                     WHERE video_id = \(args.videoID) AND stage = ANY(\(stage.downstream.map(\.rawValue)))
                    """, logger: logger)
                try await connection.query("""
                    UPDATE videos SET regenerated_stage = \(stage.rawValue), updated_at = now() WHERE id = \(args.videoID)
                    """, logger: logger)
                let job = try StageJobArgs(videoID: args.videoID, userID: args.userID, stage: stage, generation: generation)
                    .job(priority: video.priority)
                try await enqueue([job], videoID: args.videoID, on: connection)
                try await updateProgress(args.videoID, on: connection)
                try await DomainEvents.publishVideo(args.videoID, type: "video.progress", on: connection, logger: logger)
            case .failed where video.optimized:
                // Optimizing is best effort: the video stays completed, with its new score.
                try await finishVideo(args.videoID, status: .completed, errorCode: nil, message: nil, on: connection)
            case .failed:
                try await finishVideo(args.videoID, status: .failed, errorCode: "quality_below_threshold",
                                      message: "The quality score \(score) is below the threshold", on: connection)
            }
        }
    }

    /// Sends a completed video back through `stage` and the stages after it (optimizing):
    /// they run again as a new generation, and the review completes the video whatever the
    /// new score.
    /// - Returns: false when the video is not the user's completed video.
    public func reopen(_ videoID: String, userID: String, redoing stage: PipelineStage) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE videos SET status = 'processing', regenerated_stage = \(stage.rawValue), optimized_at = now(), error_code = NULL,
                       error_message = NULL, finished_at = NULL, updated_at = now()
                 WHERE id = \(videoID) AND user_id = \(userID) AND status = 'completed' AND kind = 'video'
                RETURNING priority::int4, (SELECT max(generation) FROM video_stages WHERE video_id = \(videoID))
                """, logger: logger)
            var found: (priority: Int32, generation: Int32)?
            for try await row in rows.decode((Int32, Int32).self) { found = row }
            guard let found else { return false }
            let generation = Int(found.generation) + 1
            try await connection.query("""
                UPDATE video_stages SET status = 'pending', generation = \(Int32(generation)), job_id = NULL, error = NULL,
                       started_at = NULL, finished_at = NULL
                 WHERE video_id = \(videoID) AND stage = ANY(\(stage.downstream.map(\.rawValue)))
                """, logger: logger)
            let job = try StageJobArgs(videoID: videoID, userID: userID, stage: stage, generation: generation).job(priority: Int(found.priority))
            try await enqueue([job], videoID: videoID, on: connection)
            try await updateProgress(videoID, on: connection)
            try await DomainEvents.publishVideo(videoID, type: "video.progress", on: connection, logger: logger)
            return true
        }
    }

    /// Fails a video (a stage out of attempts, a budget that cannot cover the next call):
    /// its other work is cancelled, the reason recorded, `video.failed` written.
    /// - Parameter completing: this worker's job to complete in the same transaction, if any.
    /// - Throws: `StageLostError` when `completing` is no longer this worker's.
    /// - Parameter sparing: this worker's job, failing its last attempt, that the queue ends
    ///   (discarded, with its error) rather than this cancelling it.
    public func failVideo(_ videoID: String, userID: String, code: String, message: String,
                          completing job: JobLease? = nil, sparing failingJob: Int64? = nil) async throws {
        try await client.withRetryingTransaction(logger: logger) { connection in
            let video = try await lockVideo(videoID, on: connection)
            if let job, !(try await jobs.complete(job, on: connection)) {
                throw StageLostError(jobID: job.jobID)
            }
            guard let video, video.status == .processing else { return }
            try await finishVideo(videoID, status: .failed, errorCode: code, message: message, on: connection,
                                  sparing: job?.jobID ?? failingJob)
            if code == "cost_limit_exceeded" {
                let data = DomainEvents.json(["video_id": videoID, "message": message])
                try await DomainEvents.record(type: "cost.limit_reached", userID: userID, data: data, on: connection, logger: logger)
            }
        }
    }

    /// Fails a video whose provider billed past its limit (an overrun the reservation did not
    /// cover): its other work stops, and `cost.limit_reached` says by how much.
    func stopForOverrun(_ args: StageJobArgs, settlement: CostLedger.Settlement, sparing jobID: Int64,
                        on connection: PostgresConnection) async throws {
        let message = "The \(args.stage.rawValue) provider billed \(settlement.amount), above the \(settlement.reserved) reserved for the call; "
            + "the video's spend \(settlement.spent) passed its cost_limit \(settlement.costLimit)"
        try await finishVideo(args.videoID, status: .failed, errorCode: "cost_limit_exceeded", message: message, on: connection, sparing: jobID)
        let data = DomainEvents.json(["video_id": args.videoID, "message": message, "overrun": true, "stage": args.stage.rawValue,
                                      "spent": settlement.spent.dollars, "cost_limit": settlement.costLimit.dollars])
        try await DomainEvents.record(type: "cost.limit_reached", userID: args.userID, data: data, on: connection, logger: logger)
    }

    /// Ends a video in `status`; see `finishVideos`.
    func finishVideo(_ videoID: String, status: VideoStatus, errorCode: String?, message: String?,
                     on connection: PostgresConnection, sparing: Int64? = nil) async throws {
        try await finishVideos([videoID], status: status, errorCode: errorCode, message: message, on: connection, sparing: sparing)
    }

    /// Ends videos in `status`, set-based (a batch of 1,000 costs the statements of one):
    /// stage rows and jobs still waiting or running are cancelled, each video gets its
    /// `video.<status>` outbox event and live notification, and each batch touched is checked
    /// for completion. The caller holds the videos' row locks.
    /// - Parameter sparing: a job of the caller's not to cancel (it is being completed).
    func finishVideos(_ videoIDs: [String], status: VideoStatus, errorCode: String?, message: String?,
                      on connection: PostgresConnection, sparing: Int64? = nil) async throws {
        guard !videoIDs.isEmpty else { return }
        let rows = try await connection.query("""
            WITH s AS (
                UPDATE video_stages SET status = 'cancelled', finished_at = now()
                 WHERE video_id = ANY(\(videoIDs)) AND status IN ('pending', 'running')
                RETURNING job_id
            )
            SELECT coalesce(array_agg(job_id) FILTER (WHERE job_id IS NOT NULL AND job_id IS DISTINCT FROM \(sparing)), '{}') FROM s
            """, logger: logger)
        var jobIDs: [Int64] = []
        for try await ids in rows.decode([Int64].self) { jobIDs = ids }
        try await jobs.cancel(ids: jobIDs, on: connection)
        let eventIDs = videoIDs.map { _ in PrefixedID.make("evt_") }
        let type = "video.\(status.rawValue)"
        let batchRows = try await connection.query("""
            WITH v AS (
                UPDATE videos SET status = \(status.rawValue), error_code = \(errorCode), error_message = \(message),
                       progress = CASE WHEN \(status.rawValue) = 'completed' THEN 100 ELSE progress END,
                       finished_at = now(), updated_at = now()
                 WHERE id = ANY(\(videoIDs))
                RETURNING id, user_id, batch_id, channel_id, status, stage, progress, spent, reserved
            ), recorded AS (
                INSERT INTO domain_events (id, user_id, type, data)
                SELECT e.event_id, v.user_id, \(type), jsonb_strip_nulls(jsonb_build_object(
                           'video_id', v.id, 'channel_id', v.channel_id, 'status', v.status, 'actual_cost', v.spent::float8 / 1000000,
                           'batch_id', v.batch_id, 'error', \(errorCode)::text, 'message', \(message)::text))
                  FROM v JOIN unnest(\(videoIDs)::text[], \(eventIDs)::text[]) AS e(video_id, event_id) ON e.video_id = v.id
            ), notified AS (
                SELECT count(pg_notify(\(DomainEvents.liveChannel), json_build_object(
                           'type', \(type)::text, 'video_id', id, 'user_id', user_id, 'channel_id', channel_id, 'status', status,
                           'stage', stage, 'progress', progress, 'spent', spent / 1e6, 'reserved', reserved / 1e6)::text)) AS n
                  FROM v
            )
            SELECT n, coalesce((SELECT array_agg(DISTINCT batch_id ORDER BY batch_id) FROM v WHERE batch_id IS NOT NULL), '{}')
              FROM notified
            """, logger: logger)
        var batchIDs: [String] = []
        for try await (_, ids) in batchRows.decode((Int64, [String]).self) { batchIDs = ids }
        for batchID in batchIDs {
            try await completeBatchIfDone(batchID, on: connection)
            try await startNextInSequence(batchID, on: connection)
        }
    }

    /// In a sequential batch (`parallel: false`) each video starts when the one before it ends.
    func startNextInSequence(_ batchID: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query("""
            SELECT v.id, v.user_id, v.priority::int4 FROM videos v JOIN batches b ON b.id = v.batch_id
             WHERE v.batch_id = \(batchID) AND NOT b.parallel AND b.cancelled_at IS NULL AND v.status = 'processing'
               AND EXISTS (SELECT 1 FROM video_stages s WHERE s.video_id = v.id AND s.stage = 'script' AND s.job_id IS NULL)
             ORDER BY v.batch_position LIMIT 1
            """, logger: logger)
        var next: (videoID: String, userID: String, priority: Int32)?
        for try await row in rows.decode((String, String, Int32).self) { next = row }
        guard let next else { return }
        let job = try StageJobArgs(videoID: next.videoID, userID: next.userID, stage: .script, generation: 1).job(priority: Int(next.priority))
        try await enqueue([job], videoID: next.videoID, on: connection)
    }

    /// Writes `batch.completed` once, when the last video of a batch finishes. Videos of one
    /// batch finish one at a time (a transaction-scoped advisory lock on the batch), so of two
    /// finishing together the second sees the first. (An advisory lock rather than the batch
    /// row's: row locks there meet the foreign-key share locks of the batch's videos.)
    func completeBatchIfDone(_ batchID: String, on connection: PostgresConnection) async throws {
        try await AdvisoryLock.batchCompletion.lock(batchID, on: connection, logger: logger)
        let rows = try await connection.query("""
            WITH b AS (
                UPDATE batches SET completed_at = now()
                 WHERE id = \(batchID) AND completed_at IS NULL
                   AND NOT EXISTS (SELECT 1 FROM videos WHERE batch_id = \(batchID) AND status = 'processing')
                RETURNING id, user_id
            )
            SELECT b.user_id, count(*) FILTER (WHERE v.status IN ('completed', 'published')), count(*) FILTER (WHERE v.status = 'failed'),
                   count(*) FILTER (WHERE v.status = 'cancelled'), coalesce(sum(v.spent), 0)::int8
              FROM b JOIN videos v ON v.batch_id = b.id
             GROUP BY b.user_id
            """, logger: logger)
        var done: (userID: String, completed: Int64, failed: Int64, cancelled: Int64, spent: Int64)?
        for try await row in rows.decode((String, Int64, Int64, Int64, Int64).self) { done = row }
        if let (userID, completed, failed, cancelled, spent) = done {
            let data = DomainEvents.json(["batch_id": batchID, "completed": completed, "failed": failed, "cancelled": cancelled,
                                          "total_cost": Money(micros: spent).dollars])
            try await DomainEvents.record(type: "batch.completed", userID: userID, data: data, on: connection, logger: logger)
        }
    }

    /// Inserts stage jobs and points their stage rows at them.
    func enqueue(_ next: [NewJob], videoID: String, on connection: PostgresConnection) async throws {
        guard !next.isEmpty else { return }
        let inserted = try await jobs.insert(next, on: connection)
        for (job, result) in zip(next, inserted) {
            guard let stage = PipelineStage(jobKind: job.kind) else { continue }
            try await connection.query("""
                UPDATE video_stages SET job_id = \(result.id) WHERE video_id = \(videoID) AND stage = \(stage.rawValue)
                """, logger: logger)
        }
    }

    /// Progress is the weight of the completed stages.
    func updateProgress(_ videoID: String, on connection: PostgresConnection) async throws {
        let weights = PipelineStage.allCases.map { Int32($0.weight) }
        let names = PipelineStage.allCases.map(\.rawValue)
        try await connection.query("""
            UPDATE videos SET progress = (
                SELECT coalesce(sum(w.weight), 0) FROM video_stages s
                  JOIN unnest(\(names)::text[], \(weights)::int4[]) AS w(stage, weight) ON w.stage = s.stage
                 WHERE s.video_id = \(videoID) AND s.status = 'completed'), updated_at = now()
             WHERE id = \(videoID)
            """, logger: logger)
    }

    struct LockedVideo {
        var status: VideoStatus
        var priority: Int
        var kind: VideoKind
        var optimized: Bool
    }

    func lockVideo(_ videoID: String, on connection: PostgresConnection) async throws -> LockedVideo? {
        let rows = try await connection.query("""
            SELECT status, priority::int4, kind, optimized_at IS NOT NULL FROM videos WHERE id = \(videoID) FOR UPDATE
            """, logger: logger)
        for try await (status, priority, kind, optimized) in rows.decode((String, Int32, String, Bool).self) {
            return LockedVideo(status: try DatabaseValue.decode(status, column: "videos.status"), priority: Int(priority),
                               kind: try DatabaseValue.decode(kind, column: "videos.kind"), optimized: optimized)
        }
        return nil
    }

    func stageStates(_ videoID: String, on connection: PostgresConnection) async throws -> [PipelineStage: (status: StageStatus, generation: Int)] {
        let rows = try await connection.query("SELECT stage, status, generation FROM video_stages WHERE video_id = \(videoID)", logger: logger)
        var states: [PipelineStage: (status: StageStatus, generation: Int)] = [:]
        for try await (stage, status, generation) in rows.decode((String, String, Int32).self) {
            states[try DatabaseValue.decode(stage, column: "video_stages.stage")] =
                (try DatabaseValue.decode(status, column: "video_stages.status"), Int(generation))
        }
        return states
    }
}
