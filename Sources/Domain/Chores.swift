import Foundation
import Logging
import PostgresNIO
import Queue

/// The leader's chore that deletes credentials nobody can use any more: refresh and email
/// tokens expired for longer than `retention` (used refresh tokens are kept until then, so a
/// replay is still recognised), revoked sessions older than `retention`, and OAuth states
/// past their expiry.
public struct CredentialPruner: MaintenanceTask {
    public let client: PostgresClient
    public let logger: Logger
    public let retention: Duration
    public let interval: Duration
    public var name: String { "credential-pruner" }

    public init(client: PostgresClient, logger: Logger, retention: Duration = .seconds(7 * 86_400), interval: Duration = .seconds(3600)) {
        self.client = client
        self.logger = logger
        self.retention = retention
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        let age = retention.seconds
        let rows = try await client.query("""
            WITH r AS (DELETE FROM refresh_tokens WHERE expires_at < now() - \(age) * interval '1 second' RETURNING 1),
                 e AS (DELETE FROM email_tokens WHERE expires_at < now() - \(age) * interval '1 second' RETURNING 1),
                 s AS (DELETE FROM sessions WHERE revoked_at < now() - \(age) * interval '1 second' RETURNING 1),
                 o AS (DELETE FROM oauth_states WHERE expires_at < now() RETURNING 1)
            SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM e) + (SELECT count(*) FROM s) + (SELECT count(*) FROM o)
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

/// The leader's chore that keeps channel statistics fresh: a sync for every channel linked
/// to an active YouTube account and not synced for `age`.
public struct ChannelSyncScheduler: MaintenanceTask {
    public let stats: ChannelStats
    public let age: Duration
    public let interval: Duration
    public var name: String { "channel-sync-scheduler" }

    public init(stats: ChannelStats, age: Duration = .seconds(86_400), interval: Duration = .seconds(1800)) {
        self.stats = stats
        self.age = age
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        let rows = try await stats.client.query("""
            SELECT c.id, c.user_id FROM channels c
              JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id AND a.status = 'active'
             WHERE c.last_synced_at IS NULL OR c.last_synced_at < now() - \(age.seconds) * interval '1 second'
             ORDER BY c.last_synced_at NULLS FIRST LIMIT 500
            """, logger: stats.logger)
        var due: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { due.append(row) }
        for (channelID, userID) in due { _ = try await stats.requestSync(channelID: channelID, userID: userID) }
        return due.count
    }
}

/// The leader's chore that keeps the outboxes small: domain events already fanned out to
/// webhooks and emails already sent, once older than `retention` (at least two days: the
/// once-a-day `quota.exhausted` rule reads the day's events). Undispatched events and unsent
/// emails are never touched.
public struct OutboxPruner: MaintenanceTask {
    public let client: PostgresClient
    public let logger: Logger
    public let retention: Duration
    public let interval: Duration
    public var name: String { "outbox-pruner" }

    public init(client: PostgresClient, logger: Logger, retention: Duration = .seconds(30 * 86_400), interval: Duration = .seconds(600)) {
        self.client = client
        self.logger = logger
        self.retention = max(retention, .seconds(2 * 86_400))
        self.interval = interval
    }

    /// Deletes up to 10,000 rows of each outbox per round.
    public func runOnce() async throws -> Int {
        let age = retention.seconds
        let rows = try await client.query("""
            WITH e AS (
                DELETE FROM domain_events WHERE id IN (
                    SELECT id FROM domain_events WHERE dispatched_at < now() - \(age) * interval '1 second' LIMIT 10000)
                RETURNING 1
            ), m AS (
                DELETE FROM email_outbox WHERE id IN (
                    SELECT id FROM email_outbox WHERE sent_at < now() - \(age) * interval '1 second' LIMIT 10000)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM m)
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
