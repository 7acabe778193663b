import Foundation
import Logging
import PostgresNIO

/// The SQL of the leader lease: one row per election name.
public struct LeaderStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Takes the lease when it is free or expired, or renews it when `candidate` holds it.
    /// - Returns: true when `candidate` is the leader until `now + ttl`.
    public func acquireOrRenew(name: String, candidate: String, ttl: Duration) async throws -> Bool {
        let rows = try await client.query("""
            INSERT INTO leader (name, leader_id, elected_at, expires_at)
            VALUES (\(name), \(candidate), now(), now() + make_interval(secs => \(ttl.seconds)))
            ON CONFLICT (name) DO UPDATE
               SET leader_id = excluded.leader_id,
                   elected_at = CASE WHEN leader.leader_id = excluded.leader_id THEN leader.elected_at ELSE now() END,
                   expires_at = excluded.expires_at
             WHERE leader.leader_id = excluded.leader_id OR leader.expires_at < now()
            RETURNING leader_id
            """, logger: logger)
        for try await id in rows.decode(String.self) { return id == candidate }
        return false
    }

    /// Gives the lease up so another candidate takes over at once.
    public func resign(name: String, candidate: String) async throws {
        try await client.query("DELETE FROM leader WHERE name = \(name) AND leader_id = \(candidate)", logger: logger)
    }

    /// The current holder, if its lease has not expired.
    public func currentLeader(name: String) async throws -> String? {
        let rows = try await client.query(
            "SELECT leader_id FROM leader WHERE name = \(name) AND expires_at > now()", logger: logger)
        for try await id in rows.decode(String.self) { return id }
        return nil
    }
}
