import Foundation
import Logging
import PostgresNIO
import Queue

/// Single-use, expiring tokens sent by email, stored hashed.
public struct EmailTokenRepository: Sendable {
    public enum Purpose: String, Sendable {
        case verifyEmail = "verify_email"
        case resetPassword = "reset_password"
    }

    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Issues a token for `purpose`.
    public func issue(userID: String, purpose: Purpose, lifetime: Duration, on executor: any PostgresExecutor) async throws -> SecretToken {
        let token = SecretToken.generate()
        try await executor.run("""
            INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at)
            VALUES (\(token.hash), \(userID), \(purpose.rawValue), now() + make_interval(secs => \(lifetime.seconds)))
            """, logger: logger)
        return token
    }

    /// Uses a token up: returns its user when it is known, unused, unexpired and for `purpose`.
    public func consume(_ token: SecretToken, purpose: Purpose, on executor: any PostgresExecutor) async throws -> String? {
        let rows = try await executor.run("""
            UPDATE email_tokens SET used_at = now()
             WHERE token_hash = \(token.hash) AND purpose = \(purpose.rawValue) AND used_at IS NULL AND expires_at > now()
            RETURNING user_id
            """, logger: logger)
        for try await userID in rows.decode(String.self) { return userID }
        return nil
    }
}
