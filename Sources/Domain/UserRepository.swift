import Foundation
import Logging
import PostgresNIO
import Queue

/// The SQL of the `users` table.
public struct UserRepository: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// Seals TOTP secrets at rest; the two-factor functions need it.
    public let cipher: TokenCipher?

    public init(client: PostgresClient, logger: Logger, cipher: TokenCipher? = nil) {
        self.client = client
        self.logger = logger
        self.cipher = cipher
    }

    /// The cipher of TOTP secrets, or a wiring error.
    private func secretCipher() throws -> TokenCipher {
        guard let cipher else { throw DomainError(.invalidState, "two-factor secrets need the token key; this repository was built without it") }
        return cipher
    }

    /// What a TOTP secret of `userID` is bound to when sealed.
    static func totpContext(_ userID: String) -> String { "totp:\(userID)" }

    /// The columns `decode` reads, by name, qualified by a table alias.
    static func columns(_ alias: String = "users") -> String {
        ["id", "email", "full_name", "company", "subscription_tier", "email_verified_at IS NOT NULL AS email_verified", "totp_enabled", "created_at",
         "operator"]
            .map { "\(alias).\($0)" }.joined(separator: ", ")
    }

    /// Decodes a row selected with `columns` (other columns may follow).
    static func decode(_ row: PostgresRow) throws -> User {
        let c = NamedRow(row)
        return User(id: try c("id"), email: try c("email"), fullName: try c("full_name"), company: try c("company"),
                    subscriptionTier: try c("subscription_tier"), emailVerified: try c("email_verified"),
                    twoFactorEnabled: try c("totp_enabled"), createdAt: try c("created_at"), isOperator: try c("operator"))
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
            let hash = try NamedRow(row)("password_hash", as: String.self)
            return (try Self.decode(row), hash)
        }
        return nil
    }

    /// Marks the email verified.
    /// When the account's email was never verified, a password reset is the first proof that
    /// whoever holds the account owns the address: anything set up before it may be a
    /// squatter's (a pre-hijacked account). This verifies the email and removes that setup —
    /// webhooks, connected YouTube accounts and two-factor authentication — in the caller's
    /// transaction. Does nothing to a verified account.
    /// - Returns: true when the account was taken over this way.
    @discardableResult
    public func claimByEmailProof(userID: String, on executor: any PostgresExecutor) async throws -> Bool {
        let rows = try await executor.run("""
            WITH claimed AS (
                UPDATE users SET email_verified_at = now(), totp_enabled = false, totp_secret = NULL, totp_secret_sealed = NULL,
                                 totp_last_step = NULL, updated_at = now()
                 WHERE id = \(userID) AND email_verified_at IS NULL
                RETURNING id
            ), hooks AS (
                DELETE FROM webhook_endpoints WHERE user_id IN (SELECT id FROM claimed) RETURNING 1
            ), accounts AS (
                DELETE FROM youtube_accounts WHERE user_id IN (SELECT id FROM claimed) RETURNING 1
            )
            SELECT count(*) FROM claimed, (SELECT count(*) FROM hooks) h, (SELECT count(*) FROM accounts) a
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return count > 0 }
        return false
    }

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

    /// Changes the name and/or company; nil leaves a field as it is.
    public func updateProfile(userID: String, fullName: String?, company: String?) async throws -> User? {
        let rows = try await client.query("""
            UPDATE users SET full_name = coalesce(\(fullName), full_name), company = coalesce(\(company), company), updated_at = now()
             WHERE id = \(userID)
            RETURNING \(unescaped: Self.columns())
            """, logger: logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// The password hash, for confirming a sensitive change.
    public func passwordHash(userID: String) async throws -> String? {
        let rows = try await client.query("SELECT password_hash FROM users WHERE id = \(userID)", logger: logger)
        for try await hash in rows.decode(String.self) { return hash }
        return nil
    }

    /// Replaces the password hash.
    public func setPasswordHash(userID: String, hash: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("UPDATE users SET password_hash = \(hash), updated_at = now() WHERE id = \(userID)", logger: logger)
    }

    /// The settings document (JSON object text).
    public func settings(userID: String) async throws -> String? {
        let rows = try await client.query("SELECT settings::text FROM users WHERE id = \(userID)", logger: logger)
        for try await json in rows.decode(String.self) { return json }
        return nil
    }

    /// Merges `patch` (a JSON object) into the settings and returns the result.
    public func mergeSettings(userID: String, patch: String) async throws -> String? {
        let rows = try await client.query("""
            UPDATE users SET settings = settings || \(patch)::jsonb, updated_at = now() WHERE id = \(userID) RETURNING settings::text
            """, logger: logger)
        for try await json in rows.decode(String.self) { return json }
        return nil
    }

    /// The TOTP state: the secret (pending or active, opened), whether it is enabled, the last
    /// step used. A secret still in clear (from before secrets were sealed) is read as is.
    public func twoFactorState(userID: String) async throws -> (secret: String?, enabled: Bool, lastStep: Int64?) {
        let cipher = try secretCipher()
        let rows = try await client.query("""
            SELECT totp_secret_sealed, totp_secret, totp_enabled, totp_last_step FROM users WHERE id = \(userID)
            """, logger: logger)
        for try await (sealed, clear, enabled, lastStep) in rows.decode((ByteBuffer?, String?, Bool, Int64?).self) {
            if let sealed { return (try cipher.open(Data(buffer: sealed), context: Self.totpContext(userID)), enabled, lastStep) }
            if let clear { try await seal(userID: userID, clear: clear, with: cipher) }
            return (clear, enabled, lastStep)
        }
        return (nil, false, nil)
    }

    /// Stores a new, not yet enabled secret (a setup in progress), sealed.
    public func setPendingTwoFactorSecret(userID: String, secret: String) async throws {
        let sealed = ByteBuffer(bytes: try secretCipher().seal(secret, context: Self.totpContext(userID)))
        try await client.query("""
            UPDATE users SET totp_secret_sealed = \(sealed), totp_secret = NULL, totp_last_step = NULL, updated_at = now()
             WHERE id = \(userID) AND NOT totp_enabled
            """, logger: logger)
    }

    /// Seals up to `limit` TOTP secrets still stored in clear (rows from before secrets were
    /// sealed; `TwoFactorSecretSealer` runs it, and reading one seals it too).
    /// - Returns: how many were sealed.
    @discardableResult
    public func sealClearTwoFactorSecrets(limit: Int = 500) async throws -> Int {
        let cipher = try secretCipher()
        let rows = try await client.query("""
            SELECT id, totp_secret FROM users WHERE totp_secret IS NOT NULL LIMIT \(Int32(limit))
            """, logger: logger)
        var clear: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { clear.append(row) }
        for (userID, secret) in clear { try await seal(userID: userID, clear: secret, with: cipher) }
        return clear.count
    }

    /// Replaces a clear secret with its sealed form, unless it changed meanwhile.
    private func seal(userID: String, clear: String, with cipher: TokenCipher) async throws {
        let sealed = ByteBuffer(bytes: try cipher.seal(clear, context: Self.totpContext(userID)))
        try await client.query("""
            UPDATE users SET totp_secret_sealed = \(sealed), totp_secret = NULL WHERE id = \(userID) AND totp_secret = \(clear)
            """, logger: logger)
    }

    /// Records that `step` was used, only if it is newer than the last one, so a code works
    /// once; optionally turns two-factor on (true) or off (false, which also drops the secret).
    /// - Returns: false when the step was already used (a replay).
    public func useTwoFactorStep(userID: String, step: Int64, enable: Bool? = nil) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE users SET totp_last_step = CASE WHEN \(enable) = false THEN NULL ELSE \(step) END,
                   totp_enabled = coalesce(\(enable), totp_enabled),
                   totp_secret = CASE WHEN \(enable) = false THEN NULL ELSE totp_secret END,
                   totp_secret_sealed = CASE WHEN \(enable) = false THEN NULL ELSE totp_secret_sealed END, updated_at = now()
             WHERE id = \(userID) AND (totp_last_step IS NULL OR totp_last_step < \(step))
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Deletes the user; sessions, tokens and settings go with it.
    public func delete(userID: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("DELETE FROM users WHERE id = \(userID)", logger: logger)
    }
}
