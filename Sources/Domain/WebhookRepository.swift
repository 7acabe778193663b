import Foundation
import Logging
import PostgresNIO
import Queue

/// A receiver of webhook deliveries.
public struct WebhookEndpoint: Sendable, Equatable {
    public var id: String
    public var url: String
    public var events: [String]
    public var description: String?
    public var status: WebhookEndpointStatus
    public var disabledReason: String?
    public var failingSince: Date?
    public var createdAt: Date
    public var updatedAt: Date
}

/// One attempt of one delivery, for the delivery log.
public struct WebhookLogEntry: Sendable, Equatable {
    public var deliveryID: String
    public var eventType: String
    /// `pending`, `sending`, `succeeded`, `failed` or `cancelled`.
    public var deliveryStatus: String
    public var attempt: Int
    public var statusCode: Int?
    public var latencyMilliseconds: Int?
    public var responseBody: String?
    public var error: String?
    public var at: Date?
    public var nextAttemptAt: Date?
}

/// What users do with webhooks: endpoints (secrets sealed at rest, shown once), test
/// deliveries and the delivery log. Scoped to the owner; another user's id is nil (404).
public struct WebhookRepository: Sendable {
    public let client: PostgresClient
    public let cipher: TokenCipher
    public let policy: WebhookPolicy
    public let logger: Logger
    /// Endpoints one user may have.
    public static let maximumEndpoints = 20

    public init(client: PostgresClient, cipher: TokenCipher, policy: WebhookPolicy, logger: Logger) {
        self.client = client
        self.cipher = cipher
        self.policy = policy
        self.logger = logger
    }

    /// The columns `decode` reads, by these names.
    static let columns = "id, url, events, description, status, disabled_reason, failing_since, created_at, updated_at"

    static func decode(_ row: PostgresRow) throws -> WebhookEndpoint {
        let c = NamedRow(row)
        return WebhookEndpoint(id: try c("id"), url: try c("url"), events: try c("events"), description: try c("description"),
                               status: try DatabaseValue.decode(try c("status", as: String.self), column: "webhook_endpoints.status"),
                               disabledReason: try c("disabled_reason"), failingSince: try c("failing_since"), createdAt: try c("created_at"),
                               updatedAt: try c("updated_at"))
    }

    /// Checks a subscription list against the catalogue.
    public static func validate(events: [String]) throws -> [String] {
        guard (1...20).contains(events.count) else { throw DomainError(.invalid, "events must name 1 to 20 events", field: "events") }
        let unknown = events.filter { !WebhookEvents.catalogue.contains($0) }
        guard unknown.isEmpty else {
            throw DomainError(.invalid, "Unknown event \(unknown[0]); known: \(WebhookEvents.catalogue.joined(separator: ", "))", field: "events")
        }
        return Array(Set(events)).sorted()
    }

    /// Checks a secret a user chose: a `whsec_` secret or 16-128 characters.
    static func validate(secret: String) throws {
        guard (16...128).contains(secret.count), !secret.contains("\0") else {
            throw DomainError(.invalid, "secret must be 16 to 128 characters (or a whsec_ secret)", field: "secret")
        }
    }

    /// Creates an endpoint.
    /// - Returns: the endpoint and its secret (generated when none is given), the only time it is shown.
    /// Checks a description's length.
    static func validate(description: String?) throws {
        guard (description?.count ?? 0) <= 500 else { throw DomainError(.invalid, "description must be at most 500 characters", field: "description") }
    }

    public func create(userID: String, url: String, events: [String], description: String?, secret: String?) async throws -> (WebhookEndpoint, String) {
        _ = try policy.validate(url: url)
        try Self.validate(description: description)
        let events = try Self.validate(events: events)
        if let secret { try Self.validate(secret: secret) }
        let secret = secret ?? StandardWebhooks.makeSecret()
        let id = PrefixedID.make("wh_")
        let sealed = ByteBuffer(bytes: try cipher.seal(secret, context: id))
        return try await client.withTransaction(logger: logger) { connection in
            try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
            let rows = try await connection.query("""
                INSERT INTO webhook_endpoints (id, user_id, url, events, description, secret)
                SELECT \(id), \(userID), \(url), \(events), \(description), \(sealed)
                 WHERE (SELECT count(*) FROM webhook_endpoints WHERE user_id = \(userID)) < \(Self.maximumEndpoints)
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            for try await row in rows { return (try Self.decode(row), secret) }
            throw DomainError(.limitReached, "At most \(Self.maximumEndpoints) webhooks per account", limit: Self.maximumEndpoints)
        }
    }

    public func list(userID: String) async throws -> [WebhookEndpoint] {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns) FROM webhook_endpoints WHERE user_id = \(userID) ORDER BY created_at, id
            """, logger: logger)
        var endpoints: [WebhookEndpoint] = []
        for try await row in rows { endpoints.append(try Self.decode(row)) }
        return endpoints
    }

    /// Changes an endpoint; `active: true` re-enables a disabled one.
    public func update(id: String, userID: String, url: String?, events: [String]?, description: String?, active: Bool?) async throws -> WebhookEndpoint? {
        if let url { _ = try policy.validate(url: url) }
        try Self.validate(description: description)
        let events = try events.map(Self.validate(events:))
        let status = active.map { $0 ? "active" : "disabled" }
        let rows = try await client.query("""
            UPDATE webhook_endpoints SET url = coalesce(\(url), url), events = coalesce(\(events), events),
                   description = coalesce(\(description), description), status = coalesce(\(status), status),
                   disabled_reason = CASE WHEN \(status)::text IS NULL THEN disabled_reason
                                          WHEN \(status) = 'active' THEN NULL ELSE 'Disabled by the user' END,
                   failing_since = CASE WHEN \(status) = 'active' THEN NULL ELSE failing_since END, updated_at = now()
             WHERE id = \(id) AND user_id = \(userID)
            RETURNING \(unescaped: Self.columns)
            """, logger: logger)
        for try await row in rows { return try Self.decode(row) }
        return nil
    }

    /// Deletes an endpoint with its deliveries and log.
    public func delete(id: String, userID: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM webhook_endpoints WHERE id = \(id) AND user_id = \(userID) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Queues a `webhook.test` delivery to the endpoint (even a disabled one: testing is how
    /// a fixed receiver is checked before re-enabling it).
    /// - Returns: the delivery's id (its `webhook-id`), or nil when the endpoint is not the user's.
    public func sendTest(id: String, userID: String) async throws -> String? {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("SELECT 1 FROM webhook_endpoints WHERE id = \(id) AND user_id = \(userID)", logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { return nil }
            let deliveryID = PrefixedID.make("msg_")
            let body = DomainEvents.json([
                "type": "webhook.test", "timestamp": ISO8601DateFormatter().string(from: Date()),
                "data": ["webhook_id": id, "message": "A test delivery from YTEmpire"] as [String: any Sendable],
            ])
            try await WebhookDeliveryStore.insert(deliveries: [(deliveryID, id, nil, "webhook.test", body)], jobs: JobStore(client: client, logger: logger),
                                                  on: connection, logger: logger)
            return deliveryID
        }
    }

    /// The endpoint's latest attempts (and deliveries not attempted yet), newest first, or nil
    /// when it is not the user's.
    public func log(endpointID: String, userID: String, limit: Int) async throws -> [WebhookLogEntry]? {
        let owned = try await client.query("SELECT 1 FROM webhook_endpoints WHERE id = \(endpointID) AND user_id = \(userID)", logger: logger)
        var found = false
        for try await _ in owned { found = true }
        guard found else { return nil }
        let rows = try await client.query("""
            SELECT d.id, d.event_type, d.status, coalesce(a.attempt, 0), a.status_code, a.latency_ms, a.response_body, a.error, a.at,
                   CASE WHEN d.status = 'pending' THEN d.next_attempt_at END
              FROM webhook_deliveries d LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
             WHERE d.endpoint_id = \(endpointID)
             ORDER BY coalesce(a.at, d.created_at) DESC, d.id, a.attempt DESC
             LIMIT \(Int32(limit))
            """, logger: logger)
        var entries: [WebhookLogEntry] = []
        for try await (id, type, status, attempt, code, latency, body, error, at, next)
            in rows.decode((String, String, String, Int32, Int32?, Int32?, String?, String?, Date?, Date?).self) {
            entries.append(WebhookLogEntry(deliveryID: id, eventType: type, deliveryStatus: status, attempt: Int(attempt), statusCode: code.map(Int.init),
                                           latencyMilliseconds: latency.map(Int.init), responseBody: body, error: error, at: at, nextAttemptAt: next))
        }
        return entries
    }
}
