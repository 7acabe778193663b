import Foundation
import Logging
import PostgresNIO
import Queue

/// Sessions and their rotating refresh tokens.
///
/// Every refresh token works once. Presenting one that was already used means it was stolen
/// or replayed, so the whole session (its family of tokens, and the access tokens naming it)
/// is revoked.
public struct SessionRepository: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Starts a session for a login and issues its first refresh token.
    /// - Returns: the session id (the access token's `sid`) and the refresh token.
    public func start(userID: String, refreshLifetime: Duration) async throws -> (sessionID: String, refresh: SecretToken) {
        let sessionID = PrefixedID.make("ses_")
        let token = SecretToken.generate()
        try await client.query("""
            WITH session AS (INSERT INTO sessions (id, user_id) VALUES (\(sessionID), \(userID)) RETURNING id)
            INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
            SELECT \(token.hash), id, now() + make_interval(secs => \(refreshLifetime.seconds)) FROM session
            """, logger: logger)
        return (sessionID, token)
    }

    /// What presenting a refresh token led to.
    public enum Rotation: Sendable, Equatable {
        /// A fresh token of the same session; the presented one is now used.
        case rotated(userID: String, sessionID: String, refresh: SecretToken)
        /// Unknown, expired or from a revoked session.
        case invalid
        /// Already used: the session has been revoked.
        case reused
    }

    /// Exchanges a refresh token for a new one, in one transaction with the token row locked,
    /// so two concurrent uses of the same token cannot both succeed.
    public func rotate(_ presented: SecretToken, refreshLifetime: Duration) async throws -> Rotation {
        try await client.withTransaction(logger: logger) { tx in
            let rows = try await tx.query("""
                SELECT t.session_id, s.user_id, t.used_at IS NOT NULL, t.expires_at < now(), s.revoked_at IS NOT NULL
                  FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.token_hash = \(presented.hash)
                   FOR UPDATE OF t
                """, logger: logger)
            var found: (String, String, Bool, Bool, Bool)?
            for try await row in rows.decode((String, String, Bool, Bool, Bool).self) { found = row }
            guard let (sessionID, userID, used, expired, revoked) = found else { return .invalid }
            if used {
                try await tx.query("""
                    UPDATE sessions SET revoked_at = coalesce(revoked_at, now()), revoke_reason = coalesce(revoke_reason, 'refresh token reused')
                     WHERE id = \(sessionID)
                    """, logger: logger)
                try await Self.announceEnded(userID: userID, sessionID: sessionID, on: tx, logger: logger)
                return .reused
            }
            guard !expired, !revoked else { return .invalid }
            let next = SecretToken.generate()
            try await tx.query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = \(presented.hash)", logger: logger)
            try await tx.query("""
                INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
                VALUES (\(next.hash), \(sessionID), now() + make_interval(secs => \(refreshLifetime.seconds)))
                """, logger: logger)
            return .rotated(userID: userID, sessionID: sessionID, refresh: next)
        }
    }

    /// Revokes the session a refresh token belongs to (logout).
    /// - Returns: false when the token is unknown.
    public func revoke(byRefresh presented: SecretToken, reason: String) async throws -> Bool {
        let rows = try await client.query("""
            WITH s AS (
                UPDATE sessions SET revoked_at = coalesce(revoked_at, now()), revoke_reason = coalesce(revoke_reason, \(reason))
                 WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = \(presented.hash))
                RETURNING id, user_id
            )
            SELECT pg_notify(\(DomainEvents.liveChannel), json_build_object('type', \(Self.endedEvent)::text, 'user_id', user_id,
                                                                            'session_id', id)::text)
              FROM s
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Revokes every session of a user (password reset, account deletion).
    public func revokeAll(userID: String, reason: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("""
            UPDATE sessions SET revoked_at = now(), revoke_reason = \(reason) WHERE user_id = \(userID) AND revoked_at IS NULL
            """, logger: logger)
        try await Self.announceEnded(userID: userID, sessionID: nil, on: executor, logger: logger)
    }

    /// The live notification that sessions ended: every API instance closes the WebSockets
    /// they opened (`LiveHub`). Sent in the caller's transaction, so only if it commits.
    public static let endedEvent = "session.ended"

    /// Announces that `sessionID` (or every session of `userID`, when nil) ended.
    static func announceEnded(userID: String, sessionID: String?, on executor: any PostgresExecutor, logger: Logger) async throws {
        try await executor.run("""
            SELECT pg_notify(\(DomainEvents.liveChannel), json_build_object('type', \(endedEvent)::text, 'user_id', \(userID)::text,
                                                                            'session_id', \(sessionID)::text)::text)
            """, logger: logger)
    }

    /// The user of a live session, for authenticating an access token; nil when the session
    /// was revoked (logout, reuse) or does not exist.
    public func activeUser(sessionID: String, userID: String) async throws -> User? {
        let rows = try await client.query("""
            SELECT \(unescaped: UserRepository.columns("u"))
              FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = \(sessionID) AND s.user_id = \(userID) AND s.revoked_at IS NULL
            """, logger: logger)
        for try await row in rows { return try UserRepository.decode(row) }
        return nil
    }
}
