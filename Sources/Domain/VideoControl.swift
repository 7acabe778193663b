import Foundation
import Logging
import PostgresNIO
import Queue

/// A batch's progress.
public struct BatchStatus: Sendable, Equatable {
    public var id: String
    public var total: Int
    /// Videos by status (`processing`, `completed`, `failed`, `cancelled`, `published`).
    public var counts: [String: Int]
    public var spent: Money
    public var reserved: Money
    public var costLimitPerVideo: Money
    public var priority: String
    public var parallel: Bool
    public var createdAt: Date
    public var completedAt: Date?
    public var cancelledAt: Date?
    /// Mean progress of the batch's videos (0-100).
    public var progress: Int
}

/// What users do to videos and batches after submitting them: cancel, delete, ask for status.
/// Cancelling stops queued work at once and running stages within a second (the queue's
/// running-job cancel); reservations of stopped attempts are settled by `CostLedger`.
public struct VideoControl: Sendable {
    public let pipeline: PipelineStore
    public var client: PostgresClient { pipeline.client }
    public var logger: Logger { pipeline.logger }

    public init(pipeline: PipelineStore) { self.pipeline = pipeline }

    /// Cancels a video still processing; finished videos are left as they are.
    /// - Returns: false when the video is not the user's.
    @discardableResult
    public func cancelVideo(id: String, userID: String) async throws -> Bool {
        let found = try await client.withRetryingTransaction(logger: logger) { connection in
            let rows = try await connection.query("SELECT status FROM videos WHERE id = \(id) AND user_id = \(userID) FOR UPDATE", logger: logger)
            var status: String?
            for try await value in rows.decode(String.self) { status = value }
            guard let status else { return false }
            if status == VideoStatus.processing.rawValue {
                try await pipeline.finishVideo(id, status: .cancelled, errorCode: nil, message: "Cancelled by the user", on: connection)
            }
            return true
        }
        if found { try await pipeline.ledger.settleAbandoned(videoID: id) }
        return found
    }

    /// Cancels, in one transaction and a fixed number of statements, the user's videos still
    /// processing that `column` (`batch_id` or `channel_id`) points at `owner`.
    /// - Returns: how many videos were cancelled.
    func cancelVideos(where column: VideoGroup, is owner: String, userID: String, message: String,
                      on connection: PostgresConnection) async throws -> Int {
        // Every transaction that locks several videos takes them in id order.
        let rows = try await connection.query("""
            SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM (
                SELECT id FROM videos WHERE \(unescaped: column.rawValue) = \(owner) AND user_id = \(userID) AND status = 'processing'
                 ORDER BY id FOR UPDATE) locked
            """, logger: logger)
        var ids: [String] = []
        for try await locked in rows.decode([String].self) { ids = locked }
        try await pipeline.finishVideos(ids, status: .cancelled, errorCode: nil, message: message, on: connection)
        return ids.count
    }

    /// The groups whose videos are cancelled together.
    enum VideoGroup: String {
        case batch = "batch_id", channel = "channel_id"
    }

    /// Cancels a video's work, then deletes it with its stages, artifacts rows and ledger.
    /// - Returns: the storage keys of its artifacts (for the caller to remove), or nil when
    ///   the video is not the user's.
    public func deleteVideo(id: String, userID: String) async throws -> [String]? {
        guard try await cancelVideo(id: id, userID: userID) else { return nil }
        let rows = try await client.query("""
            WITH a AS (SELECT storage_key FROM artifacts WHERE video_id = \(id)),
                 d AS (DELETE FROM videos WHERE id = \(id) AND user_id = \(userID) RETURNING id)
            SELECT coalesce(array_agg(storage_key), '{}') FROM a
            """, logger: logger)
        for try await keys in rows.decode([String].self) { return keys }
        return []
    }

    /// Cancels every video of a batch still processing: queued and running work stops,
    /// finished videos stay.
    /// - Returns: how many videos were cancelled, or nil when the batch is not the user's.
    public func cancelBatch(id: String, userID: String) async throws -> Int? {
        let cancelled: Int? = try await client.withRetryingTransaction(logger: logger) { connection in
            let batch = try await connection.query("SELECT id FROM batches WHERE id = \(id) AND user_id = \(userID)", logger: logger)
            var exists = false
            for try await _ in batch { exists = true }
            guard exists else { return nil }
            // The videos, then their jobs, then the batch row: the order a finishing video's worker takes them in.
            let count = try await cancelVideos(where: .batch, is: id, userID: userID, message: "The batch was cancelled", on: connection)
            try await connection.query("UPDATE batches SET cancelled_at = coalesce(cancelled_at, now()) WHERE id = \(id)", logger: logger)
            return count
        }
        if cancelled != nil { try await pipeline.ledger.settleAbandoned() }
        return cancelled
    }

    /// A batch's counts, spend and progress, or nil when it is not the user's.
    public func batchStatus(id: String, userID: String) async throws -> BatchStatus? {
        let rows = try await client.query("""
            SELECT b.id, b.total, b.cost_limit_per_video, b.priority, b.parallel, b.created_at, b.completed_at, b.cancelled_at,
                   coalesce(sum(v.spent), 0)::int8, coalesce(sum(v.reserved), 0)::int8, coalesce(avg(v.progress), 0)::int4
              FROM batches b LEFT JOIN videos v ON v.batch_id = b.id
             WHERE b.id = \(id) AND b.user_id = \(userID)
             GROUP BY b.id
            """, logger: logger)
        var status: BatchStatus?
        for try await (batchID, total, limit, priority, parallel, created, completed, cancelledAt, spent, reserved, progress)
            in rows.decode((String, Int32, Int64, String, Bool, Date, Date?, Date?, Int64, Int64, Int32).self) {
            status = BatchStatus(id: batchID, total: Int(total), counts: [:], spent: Money(micros: spent), reserved: Money(micros: reserved),
                                 costLimitPerVideo: Money(micros: limit), priority: priority, parallel: parallel, createdAt: created,
                                 completedAt: completed, cancelledAt: cancelledAt, progress: Int(progress))
        }
        guard var result = status else { return nil }
        let counts = try await client.query("SELECT status, count(*) FROM videos WHERE batch_id = \(id) GROUP BY status", logger: logger)
        for try await (state, count) in counts.decode((String, Int64).self) { result.counts[state] = Int(count) }
        return result
    }
}
