import Domain
import Foundation
import PostgresNIO

/// Rows tests need as a starting point, written directly (the API tests create theirs
/// through the API).
extension TestDatabase {
    /// A verified user on `tier`; returns its id.
    public func createUser(tier: String = "enterprise") async throws -> String {
        let id = PrefixedID.make("usr_")
        try await client.query("""
            INSERT INTO users (id, email, password_hash, full_name, subscription_tier, email_verified_at)
            VALUES (\(id), \(id + "@example.test"), 'x', 'Test User', \(tier), now())
            """, logger: logger)
        return id
    }

    /// An active channel of `userID`; returns its id.
    public func createChannel(userID: String) async throws -> String {
        try await ChannelRepository(client: client, logger: logger).create(userID: userID, ChannelChanges(name: "Test Channel")).id
    }
}
