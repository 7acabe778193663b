import Domain
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
            WITH r AS (DELETE FROM refresh_tokens WHERE expires_at < now() - make_interval(secs => \(age)) RETURNING 1),
                 e AS (DELETE FROM email_tokens WHERE expires_at < now() - make_interval(secs => \(age)) RETURNING 1),
                 s AS (DELETE FROM sessions WHERE revoked_at < now() - make_interval(secs => \(age)) RETURNING 1),
                 o AS (DELETE FROM oauth_states WHERE expires_at < now() RETURNING 1)
            SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM e) + (SELECT count(*) FROM s) + (SELECT count(*) FROM o)
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
