import Logging
import PostgresNIO

/// Every advisory lock the fleet takes, in one place, so no two uses of Postgres's advisory
/// locks can collide by accident. A lock is a space (a small number, unique below) and, for
/// the transaction-scoped ones, the name of what is locked in it (a batch id, a channel id),
/// hashed together with `hashtextextended`.
public struct AdvisoryLock: Sendable, Hashable {
    /// The space: the seed of `hashtextextended`, unique per use.
    public let space: Int64

    public init(space: Int64) { self.space = space }

    /// Migrations: one migrator at a time, fleet-wide (a session lock on a fixed key).
    public static let migrations = AdvisoryLock(space: 0x7974_656d_7069_7265)

    /// Takes the lock on `name` in this space until the end of the caller's transaction if no
    /// one holds it.
    /// - Returns: whether it was taken.
    public func tryLock(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query("SELECT pg_try_advisory_xact_lock(hashtextextended(\(name), \(space)))", logger: logger)
        for try await taken in rows.decode(Bool.self) { return taken }
        return false
    }

    /// Takes the lock on `name` in this space until the end of the caller's transaction.
    public func lock(_ name: String, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(name), \(space)))", logger: logger)
        for try await _ in rows {}
    }
}
