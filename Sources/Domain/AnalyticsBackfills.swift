import Foundation
import Logging
import PostgresNIO
import Queue

/// What an `analytics.backfill` job is asked to do.
public struct AnalyticsBackfillArgs: Codable, Sendable, Equatable {
    public var channelID: String
    public var userID: String

    public init(channelID: String, userID: String) {
        self.channelID = channelID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey { case channelID = "channel_id", userID = "user_id" }

    public static let kind = "analytics.backfill"
}

/// Where a channel's backfill stands.
public struct AnalyticsBackfill: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, running, completed, failed }

    public var channelID: String
    public var firstDay: String
    public var lastDay: String
    public var daysDone: Int
    public var daysTotal: Int
    public var status: Status
    public var lastError: String?

    /// The next window to fetch (at most `days` days), nil when every day is stored.
    public func nextWindow(days: Int) -> (from: String, to: String)? {
        guard daysDone < daysTotal, let first = QuotaDay.date(firstDay) else { return nil }
        let from = QuotaDay.of(first, daysAfter: daysDone)
        let to = QuotaDay.of(first, daysAfter: min(daysTotal, daysDone + max(1, days)) - 1)
        return (from, to)
    }
}

/// The last 90 days of a channel's YouTube Analytics, fetched once when its account connects
/// (or reconnects after a long gap), as a job with progress: windows of `windowDays`, each
/// stored with the progress in one transaction, so a backfill cut short resumes where it stood.
/// The daily sync then keeps only the last few days fresh.
public struct AnalyticsBackfills: Sendable {
    public static let days = 90
    public static let windowDays = 30

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Starts the backfill of a linked channel unless one is under way or done: the 90 days up
    /// to yesterday (Pacific). A failed backfill starts again. (Once done, any later gap is the
    /// daily sync's: it fetches from its last stored day.) Enqueues its job (one per channel).
    /// - Returns: the backfill as it stands, nil when the channel is not the user's.
    @discardableResult
    public func start(channelID: String, userID: String, now: Date = Date()) async throws -> AnalyticsBackfill? {
        let yesterday = QuotaDay.of(now, daysBefore: 1)
        let first = QuotaDay.of(now, daysBefore: Self.days)
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                INSERT INTO analytics_backfills (channel_id, first_day, last_day)
                SELECT c.id, \(first)::date, \(yesterday)::date FROM channels c WHERE c.id = \(channelID) AND c.user_id = \(userID)
                ON CONFLICT (channel_id) DO UPDATE
                   SET first_day = excluded.first_day, last_day = excluded.last_day, days_done = 0, status = 'pending',
                       last_error = NULL, updated_at = now()
                 WHERE analytics_backfills.status = 'failed'
                """, logger: logger)
            for try await _ in rows {}
            guard let backfill = try await Self.backfill(channelID: channelID, userID: userID, on: connection, logger: logger) else { return nil }
            if backfill.status != .completed {
                let job = try NewJob(kind: AnalyticsBackfillArgs.kind, encoding: AnalyticsBackfillArgs(channelID: channelID, userID: userID),
                                     maxAttempts: 10, uniqueKey: "analytics.backfill:\(channelID)", uniqueStates: NewJob.unfinishedStates,
                                     owner: userID)
                try await JobStore(client: client, logger: logger).insert(job, on: connection)
            }
            return backfill
        }
    }

    /// Starts the backfill of every channel of the user linked to the account's YouTube channel.
    public func start(accountID: String, userID: String, now: Date = Date()) async throws {
        let rows = try await client.query("""
            SELECT c.id FROM channels c JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id
             WHERE a.id = \(accountID) AND a.user_id = \(userID)
            """, logger: logger)
        var channels: [String] = []
        for try await id in rows.decode(String.self) { channels.append(id) }
        for channel in channels { try await start(channelID: channel, userID: userID, now: now) }
    }

    /// Starts the backfill of a channel when it is linked to one of the user's active accounts.
    public func startIfLinked(channelID: String, userID: String, now: Date = Date()) async throws {
        let rows = try await client.query("""
            SELECT 1 FROM channels c JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id
             WHERE c.id = \(channelID) AND c.user_id = \(userID) AND a.status = 'active' AND a.analytics_granted
            """, logger: logger)
        var linked = false
        for try await _ in rows { linked = true }
        if linked { try await start(channelID: channelID, userID: userID, now: now) }
    }

    /// The channel's backfill, nil when none was started (or, given `userID`, the channel is
    /// not that user's).
    public func backfill(channelID: String, userID: String? = nil) async throws -> AnalyticsBackfill? {
        try await client.withConnection { try await Self.backfill(channelID: channelID, userID: userID, on: $0, logger: logger) }
    }

    static func backfill(channelID: String, userID: String?, on connection: PostgresConnection, logger: Logger) async throws -> AnalyticsBackfill? {
        let rows = try await connection.query("""
            SELECT to_char(b.first_day, 'YYYY-MM-DD'), to_char(b.last_day, 'YYYY-MM-DD'), b.days_done, (b.last_day - b.first_day + 1), b.status,
                   b.last_error
              FROM analytics_backfills b JOIN channels c ON c.id = b.channel_id
             WHERE b.channel_id = \(channelID) AND (\(userID)::text IS NULL OR c.user_id = \(userID))
            """, logger: logger)
        for try await (first, last, done, total, status, error) in rows.decode((String, String, Int32, Int32, String, String?).self) {
            return AnalyticsBackfill(channelID: channelID, firstDay: first, lastDay: last, daysDone: Int(done), daysTotal: Int(total),
                                     status: try DatabaseValue.decode(status, column: "analytics_backfills.status"),
                                     lastError: error)
        }
        return nil
    }

    /// Stores one window's days and moves the progress past it, in one transaction.
    public func record(channelID: String, window: (from: String, to: String), channel: [AnalyticsDay], videos: [String: [AnalyticsDay]]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await AnalyticsStore.record(channelID: channelID, channel: channel, videos: videos, on: connection, logger: logger)
            try await connection.query("""
                UPDATE analytics_backfills
                   SET days_done = greatest(days_done, \(window.to)::date - first_day + 1), status = 'running', updated_at = now()
                 WHERE channel_id = \(channelID) AND \(window.from)::date = first_day + days_done
                """, logger: logger)
        }
    }

    /// Marks the backfill finished, or failed with a reason the user can act on.
    public func finish(channelID: String, failure: String? = nil) async throws {
        try await client.query("""
            UPDATE analytics_backfills
               SET status = CASE WHEN \(failure)::text IS NULL THEN 'completed' ELSE 'failed' END,
                   last_error = \(failure), updated_at = now()
             WHERE channel_id = \(channelID)
            """, logger: logger)
    }
}
