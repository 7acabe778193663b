import Foundation
import Logging
import PostgresNIO
import Queue

/// Account flows that span several tables and must commit together: registering (user,
/// verification token and its email in one transaction) and verifying an email.
public struct AccountService: Sendable {
    public let client: PostgresClient
    public let users: UserRepository
    public let emailTokens: EmailTokenRepository
    public let outbox: EmailOutbox
    public let logger: Logger
    /// How long a verification link works. Default 48 hours.
    public var verificationLifetime: Duration = .seconds(48 * 3600)

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        users = UserRepository(client: client, logger: logger)
        emailTokens = EmailTokenRepository(logger: logger)
        outbox = EmailOutbox(logger: logger)
    }

    /// Creates the account and queues its verification email.
    /// - Parameter passwordHash: the bcrypt hash; the domain never sees the password.
    /// - Throws: `conflict` when the email is taken.
    public func register(email: String, passwordHash: String, fullName: String, company: String?) async throws -> User {
        try await client.withTransaction(logger: logger) { tx in
            let user = try await users.create(email: email, passwordHash: passwordHash, fullName: fullName, company: company, on: tx)
            let token = try await emailTokens.issue(userID: user.id, purpose: .verifyEmail, lifetime: verificationLifetime, on: tx)
            try await outbox.enqueue(
                to: email, subject: "Verify your YTEmpire email",
                body: "Welcome to YTEmpire, \(fullName).\n\nConfirm your address with this token (valid 48 hours):\n\n\(token.value)\n\nPOST /api/v1/auth/verify-email {\"token\": \"…\"}\n",
                on: tx)
            return user
        }
    }

    /// Queues a password reset email when the address belongs to an account; does nothing
    /// otherwise (the caller answers the same either way).
    public func requestPasswordReset(email: String, lifetime: Duration = .seconds(3600)) async throws {
        guard let (user, _) = try await users.credentials(email: email) else { return }
        try await client.withTransaction(logger: logger) { tx in
            let token = try await emailTokens.issue(userID: user.id, purpose: .resetPassword, lifetime: lifetime, on: tx)
            try await outbox.enqueue(
                to: user.email, subject: "Reset your YTEmpire password",
                body: "Someone asked to reset the password of this account. If it was you, use this token within an hour:\n\n\(token.value)\n\nPOST /api/v1/auth/reset-password {\"token\": \"…\", \"new_password\": \"…\"}\n\nIf it was not you, ignore this email.\n",
                on: tx)
        }
    }

    /// Sets a new password with a reset token and revokes every session of the account, in one
    /// transaction. When the email was unverified, the reset is the first proof of owning it:
    /// the email is verified and whatever was set up before (webhooks, YouTube accounts,
    /// two-factor) is removed, so a squatter who registered the address first keeps nothing.
    /// - Throws: `unauthorized` for an unknown, used or expired token.
    public func resetPassword(token: SecretToken, newPasswordHash: String) async throws {
        let sessions = SessionRepository(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { tx in
            guard let userID = try await emailTokens.consume(token, purpose: .resetPassword, on: tx) else {
                throw DomainError(.unauthorized, "The reset token is invalid, used or expired", field: "token")
            }
            try await users.setPasswordHash(userID: userID, hash: newPasswordHash, on: tx)
            try await users.claimByEmailProof(userID: userID, on: tx)
            try await sessions.revokeAll(userID: userID, reason: "password reset", on: tx)
        }
    }

    /// Deletes an account: cancels its queued and running jobs (domain jobs are inserted with
    /// the user as `owner`) and its periodic schedules, then removes the user and, by cascade,
    /// everything it owns.
    public func deleteAccount(userID: String) async throws {
        let jobs = JobStore(client: client, logger: logger)
        try await client.withRetryingTransaction(logger: logger) { tx in
            let ids = try await jobs.unfinishedJobIDs(ownedBy: userID, on: tx)
            try await jobs.cancel(ids: ids, on: tx)
            try await PeriodicJobStore(client: client, logger: logger).removeAll(ownedBy: userID, on: tx)
            try await users.delete(userID: userID, on: tx)
            try await SessionRepository.announceEnded(userID: userID, sessionID: nil, on: tx, logger: logger)
        }
    }

    /// Marks the token's user verified.
    /// - Throws: `unauthorized` for an unknown, used or expired token.
    public func verifyEmail(token: SecretToken) async throws -> String {
        try await client.withTransaction(logger: logger) { tx in
            guard let userID = try await emailTokens.consume(token, purpose: .verifyEmail, on: tx) else {
                throw DomainError(.unauthorized, "The verification token is invalid, used or expired", field: "token")
            }
            try await users.markEmailVerified(userID: userID, on: tx)
            return userID
        }
    }
}

/// Where outbox emails go: an SMTP server in production, the log in the embedded default.
public protocol EmailTransport: Sendable {
    /// Delivers one email; throwing leaves it in the outbox for the next round.
    func send(_ email: OutgoingEmail) async throws
}

/// Writes each email to the log when no SMTP server is configured. With `includeBodies`
/// (the embedded default) the body is logged too, which is how a developer reads their
/// verification token; otherwise only that an email was held, since bodies carry tokens.
public struct LogEmailTransport: EmailTransport {
    public let logger: Logger
    public let includeBodies: Bool

    public init(logger: Logger, includeBodies: Bool) {
        self.logger = logger
        self.includeBodies = includeBodies
    }

    public func send(_ email: OutgoingEmail) async throws {
        if includeBodies {
            logger.notice("email", metadata: ["email.to": "\(email.recipient)", "email.subject": "\(email.subject)",
                                              "email.body": "\(email.body)"])
        } else {
            logger.notice("email held: no SMTP server is configured (YTEMPIRE_SMTP_URL); its body is not logged",
                          metadata: ["email.id": "\(email.id)", "email.subject": "\(email.subject)"])
        }
    }
}
