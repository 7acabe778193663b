import Domain
import Logging
import PostgresNIO
import Queue

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
                    SELECT id FROM domain_events WHERE dispatched_at < now() - make_interval(secs => \(age)) LIMIT 10000)
                RETURNING 1
            ), m AS (
                DELETE FROM email_outbox WHERE id IN (
                    SELECT id FROM email_outbox WHERE sent_at < now() - make_interval(secs => \(age)) LIMIT 10000)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM m)
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
