import Foundation
import Logging
import PostgresNIO
import Queue

/// The operator role: granted and revoked from the command line only, each change in the
/// audit log. The API reads the flag with the caller's session on every request.
public struct Operators: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Makes the user with `email` an operator (or, `granted` false, no longer one).
    /// - Throws: `notFound` when no user has that email.
    public func set(email: String, granted: Bool, by actor: OperatorActor) async throws {
        let rows = try await client.query("""
            UPDATE users SET operator = \(granted), updated_at = now() WHERE lower(email) = lower(\(email)) RETURNING id
            """, logger: logger)
        var found: String?
        for try await id in rows.decode(String.self) { found = id }
        guard let found else { throw DomainError(.notFound, "No user has the email \(email)") }
        try await OperatorActions.fleet(actor: actor, client: client, logger: logger)
            .record(granted ? "operator.grant" : "operator.revoke", target: found, details: ["email": email], affected: 1)
    }
}

extension OperatorActions {
    /// The operator actions of this product: a video's jobs (its stages, its publication) are
    /// spared, since the video keeps its own state: it is cancelled, and resubmitted, as a video.
    public static func fleet(actor: OperatorActor, client: PostgresClient, logger: Logger) -> OperatorActions {
        OperatorActions(actor: actor, client: client, logger: logger, sparing: ["video."],
                        sparingAdvice: "a video's jobs follow their video; cancel the video (POST /videos/{id}/cancel, by its owner), "
                            + "and a video that failed is submitted again")
    }
}
