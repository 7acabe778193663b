import Foundation
import Logging
import PostgresNIO
import Queue

/// The SQL of the `users` table.
public struct UserRepository: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The columns `decode` reads, qualified by a table alias.
    static func columns(_ alias: String = "users") -> String {
        ["id", "email", "full_name", "company", "subscription_tier", "email_verified_at IS NOT NULL", "totp_enabled", "created_at"]
            .map { "\(alias).\($0)" }.joined(separator: ", ")
    }

    /// Decodes the first columns of a row selected with `columns`.
    static func decode(_ row: PostgresRow) throws -> User {
        let cells = row.makeRandomAccess()
        return User(id: try cells[0].decode(String.self), email: try cells[1].decode(String.self),
                    fullName: try cells[2].decode(String.self), company: try cells[3].decode(String?.self),
                    subscriptionTier: try cells[4].decode(String.self), emailVerified: try cells[5].decode(Bool.self),
                    twoFactorEnabled: try cells[6].decode(Bool.self), createdAt: try cells[7].decode(Date.self))
    }

    /// Inserts a user; an email already taken (case-insensitively) is a `conflict`.
    public func create(email: String, passwordHash: String, fullName: String, company: String?,
                       on executor: any PostgresExecutor) async throws -> User {
        let id = PrefixedID.make("usr_")
        do {
            let rows = try await executor.run("""
                INSERT INTO users (id, email, password_hash, full_name, company)
                VALUES (\(id), \(email), \(passwordHash), \(fullName), \(company))
                RETURNING \(unescaped: Self.columns())
                """, logger: logger)
            for try await row in rows { return try Self.decode(row) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw DomainError(.conflict, "An account with this email already exists", field: "email")
        }
        throw DomainError(.conflict, "The account was not created")
    }

    /// The user with this id, or nil.
    public func user(id: String) async throws -> User? {
        let rows = try await client.query("SELECT \(unescaped: Self.columns()) FROM users WHERE id = \(id)", logger: logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// The user and password hash for a login, or nil.
    public func credentials(email: String) async throws -> (user: User, passwordHash: String)? {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns()), password_hash FROM users WHERE lower(email) = lower(\(email))
            """, logger: logger)
        for try await row in rows {
            let hash = try row.makeRandomAccess()[8].decode(String.self)
            return (try Self.decode(row), hash)
        }
        return nil
    }

    /// Marks the email verified.
    public func markEmailVerified(userID: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("""
            UPDATE users SET email_verified_at = coalesce(email_verified_at, now()), updated_at = now() WHERE id = \(userID)
            """, logger: logger)
    }

    /// Videos per month the tier allows.
    public func monthlyVideoAllowance(tier: String) async throws -> Int {
        let rows = try await client.query("SELECT videos_per_month FROM subscription_tiers WHERE name = \(tier)", logger: logger)
        for try await allowance in rows.decode(Int32.self) { return Int(allowance) }
        return 0
    }
}
