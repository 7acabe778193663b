import Logging
import PostgresNIO

/// Serialises the checks of one user's limits (videos a month, channels, YouTube accounts,
/// webhooks): the user's row is locked in one statement, and the caller counts in the next.
///
/// Under READ COMMITTED a statement's snapshot is taken before it waits for a lock, so a
/// count in the same statement as the lock sees the world as it was before the holder
/// committed, and every waiter passes the limit. A separate statement after the lock sees
/// what the holder wrote. `FOR NO KEY UPDATE` serialises these checks without blocking the
/// inserts that only reference the user (sessions, videos, batches).
enum UserLimitLock {
    /// Locks the user's row for the rest of the transaction.
    /// - Returns: the name of the user's subscription tier.
    /// - Throws: `notFound` when the user no longer exists.
    @discardableResult
    static func lock(userID: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await connection.query("SELECT subscription_tier FROM users WHERE id = \(userID) FOR NO KEY UPDATE", logger: logger)
        for try await tier in rows.decode(String.self) { return tier }
        throw DomainError(.notFound, "The account no longer exists")
    }
}
