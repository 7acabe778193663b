import Domain
import Logging
import PostgresNIO
import Queue

/// Delivers the email outbox through a transport, oldest first; an email that fails stays
/// in the outbox and is tried again on the next round.
public struct EmailSender: MaintenanceTask {
    public let client: PostgresClient
    public let transport: any EmailTransport
    public let logger: Logger
    public let interval: Duration
    public var name: String { "email-sender" }

    public init(client: PostgresClient, transport: any EmailTransport, logger: Logger, interval: Duration = .seconds(1)) {
        self.client = client
        self.transport = transport
        self.logger = logger
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        let outbox = EmailOutbox(logger: logger)
        var sent: [Int64] = []
        for email in try await outbox.pending(on: client) {
            do {
                try await transport.send(email)
                sent.append(email.id)
            } catch {
                logger.warning("sending an email failed; it stays in the outbox",
                               metadata: ["email.id": "\(email.id)", "error": "\(String(reflecting: error))"])
                break
            }
        }
        try await outbox.markSent(ids: sent, on: client)
        return sent.count
    }
}
