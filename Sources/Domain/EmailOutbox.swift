import Foundation
import Logging
import PostgresNIO
import Queue

/// An email waiting in the outbox.
public struct OutgoingEmail: Sendable, Equatable {
    public var id: Int64
    public var recipient: String
    public var subject: String
    public var body: String
}

/// Emails are written to the outbox in the transaction that causes them, so none is sent for
/// a change that rolled back and none is lost for one that committed.
public struct EmailOutbox: Sendable {
    public let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    /// Adds an email to the outbox.
    public func enqueue(to recipient: String, subject: String, body: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("""
            INSERT INTO email_outbox (recipient, subject, body) VALUES (\(recipient), \(subject), \(body))
            """, logger: logger)
    }

    /// Emails not sent yet, oldest first.
    public func pending(limit: Int = 100, on executor: any PostgresExecutor) async throws -> [OutgoingEmail] {
        let rows = try await executor.run("""
            SELECT id, recipient, subject, body FROM email_outbox WHERE sent_at IS NULL ORDER BY id LIMIT \(Int32(limit))
            """, logger: logger)
        var emails: [OutgoingEmail] = []
        for try await (id, recipient, subject, body) in rows.decode((Int64, String, String, String).self) {
            emails.append(OutgoingEmail(id: id, recipient: recipient, subject: subject, body: body))
        }
        return emails
    }

    /// Marks emails sent and drops their bodies: a body carries a verification or reset
    /// token, which must not outlive its delivery in the database.
    public func markSent(ids: [Int64], on executor: any PostgresExecutor) async throws {
        try await executor.run("""
            UPDATE email_outbox SET sent_at = now(), body = '' WHERE id = ANY(\(ids))
            """, logger: logger)
    }
}
