import Foundation
import Logging
import PostgresNIO
import Queue

/// The SQL of the `channels` table. Every statement is scoped to the owning user.
public struct ChannelRepository: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The columns `decode` reads, by name.
    static let columns = """
        c.id, c.name, c.youtube_channel_id, c.category, c.target_audience, c.posting_schedule::text AS posting_schedule, c.status, \
        c.health_score, (SELECT count(*) FROM videos v WHERE v.channel_id = c.id) AS videos_count, c.subscribers, c.monthly_views, c.created_at
        """

    /// Decodes a row selected with `columns` (other columns may follow).
    static func decode(_ row: PostgresRow) throws -> Channel {
        let c = NamedRow(row)
        let schedule = try c("posting_schedule", as: String?.self).flatMap { try? JSONDecoder().decode(PostingSchedule.self, from: Data($0.utf8)) }
        return Channel(id: try c("id"), name: try c("name"), youtubeChannelID: try c("youtube_channel_id"), category: try c("category"),
                       targetAudience: try c("target_audience"), postingSchedule: schedule, status: try DatabaseValue.decode(try c("status"), column: "channels.status"),
                       healthScore: Int(try c("health_score", as: Int32.self)), videosCount: Int(try c("videos_count", as: Int64.self)),
                       subscribers: try c("subscribers"), monthlyViews: try c("monthly_views"), createdAt: try c("created_at"))
    }

    private static func scheduleJSON(_ schedule: PostingSchedule?) throws -> String? {
        try schedule.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
    }

    /// Creates a channel unless the user's tier allows no more (the user row is locked so two
    /// concurrent creates cannot both take the last place).
    public func create(userID: String, _ changes: ChannelChanges) async throws -> Channel {
        try changes.validate(creating: true)
        let id = PrefixedID.make("ch_")
        let schedule = try Self.scheduleJSON(changes.postingSchedule)
        let name = changes.name?.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await client.withTransaction(logger: logger) { connection in
            try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
            let limits = try await connection.query("""
                SELECT t.channels, (SELECT count(*) FROM channels WHERE user_id = u.id)
                  FROM users u JOIN subscription_tiers t ON t.name = u.subscription_tier
                 WHERE u.id = \(userID)
                """, logger: logger)
            for try await (allowed, used) in limits.decode((Int32, Int64).self) where used >= Int64(allowed) {
                throw DomainError(.limitReached, "Your plan allows \(allowed) channel\(allowed == 1 ? "" : "s"); delete one or upgrade to add more",
                                  limit: Int(allowed))
            }
            do {
                let rows = try await connection.query("""
                    WITH c AS (
                        INSERT INTO channels (id, user_id, name, youtube_channel_id, category, target_audience, posting_schedule, status)
                        VALUES (\(id), \(userID), \(name), \(changes.youtubeChannelID), \(changes.category), \(changes.targetAudience),
                                \(schedule)::jsonb, \(changes.status ?? "active"))
                        RETURNING *
                    )
                    SELECT \(unescaped: Self.columns) FROM c
                    """, logger: logger)
                for try await row in rows { return try Self.decode(row) }
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
                throw DomainError(.conflict, "This YouTube channel is already connected", field: "youtube_channel_id")
            }
            throw DomainError(.notFound, "The account no longer exists")
        }
    }

    /// One of the user's channels, or nil (another user's id answers nil too).
    public func channel(id: String, userID: String) async throws -> Channel? {
        let rows = try await client.query("SELECT \(unescaped: Self.columns) FROM channels c WHERE c.id = \(id) AND c.user_id = \(userID)",
                                          logger: logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// A page of the user's channels, oldest first, and how many there are in all.
    /// - Parameter status: `active`, `suspended`, or nil for all.
    public func list(userID: String, status: String?, offset: Int, limit: Int) async throws -> (channels: [Channel], total: Int) {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns), count(*) OVER () AS total FROM channels c
             WHERE c.user_id = \(userID) AND (\(status)::text IS NULL OR c.status = \(status))
             ORDER BY c.created_at, c.id OFFSET \(offset) LIMIT \(limit)
            """, logger: logger)
        var channels: [Channel] = []
        var total = 0
        for try await row in rows {
            channels.append(try Self.decode(row))
            total = Int(try NamedRow(row)("total", as: Int64.self))
        }
        if channels.isEmpty, offset > 0 {
            let count = try await client.query("SELECT count(*) FROM channels WHERE user_id = \(userID) AND (\(status)::text IS NULL OR status = \(status))",
                                               logger: logger)
            for try await value in count.decode(Int64.self) { total = Int(value) }
        }
        return (channels, total)
    }

    /// Applies the changes given; nil when the channel is not the user's.
    public func update(id: String, userID: String, _ changes: ChannelChanges) async throws -> Channel? {
        try changes.validate(creating: false)
        let schedule = try Self.scheduleJSON(changes.postingSchedule)
        let name = changes.name?.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            let rows = try await client.query("""
                WITH c AS (
                    UPDATE channels SET name = coalesce(\(name), name),
                           youtube_channel_id = coalesce(\(changes.youtubeChannelID), youtube_channel_id),
                           category = coalesce(\(changes.category), category),
                           target_audience = coalesce(\(changes.targetAudience), target_audience),
                           posting_schedule = coalesce(\(schedule)::jsonb, posting_schedule),
                           status = coalesce(\(changes.status), status), updated_at = now()
                     WHERE id = \(id) AND user_id = \(userID)
                    RETURNING *
                )
                SELECT \(unescaped: Self.columns) FROM c
                """, logger: logger)
            for try await row in rows { return try Self.decode(row) }
            return nil
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw DomainError(.conflict, "This YouTube channel is already connected", field: "youtube_channel_id")
        }
    }
}
