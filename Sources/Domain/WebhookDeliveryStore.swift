import Foundation
import Logging
import PostgresNIO
import Queue

/// The arguments of a delivery job.
public struct WebhookDeliveryArgs: Codable, Sendable, Equatable {
    public var deliveryID: String

    public init(deliveryID: String) { self.deliveryID = deliveryID }

    enum CodingKeys: String, CodingKey { case deliveryID = "delivery_id" }

    public static let kind = "webhook.deliver"
    public static let queue = "webhooks"
}

/// One attempt about to be sent.
public struct WebhookAttempt: Sendable {
    public var deliveryID: String
    public var endpointID: String
    public var url: String
    public var secret: String
    public var body: String
    /// 1 for the first attempt.
    public var number: Int

    public init(deliveryID: String, endpointID: String, url: String, secret: String, body: String, number: Int) {
        self.deliveryID = deliveryID
        self.endpointID = endpointID
        self.url = url
        self.secret = secret
        self.body = body
        self.number = number
    }
}

/// What the receiver made of an attempt.
public struct WebhookAttemptResult: Sendable {
    /// nil when no answer came (refused, timed out, dropped).
    public var statusCode: Int?
    public var latencyMilliseconds: Int
    public var responseBody: String?
    public var error: String?
    /// The receiver's `Retry-After`.
    public var retryAfter: Duration?

    public init(statusCode: Int?, latencyMilliseconds: Int, responseBody: String?, error: String?, retryAfter: Duration?) {
        self.statusCode = statusCode
        self.latencyMilliseconds = latencyMilliseconds
        self.responseBody = responseBody
        self.error = error
        self.retryAfter = retryAfter
    }

    public var succeeded: Bool { statusCode.map { (200..<300).contains($0) } ?? false }
}

/// Webhook delivery in SQL: fan-out of outbox events into one delivery (and one queue job)
/// per subscribed endpoint, the per-endpoint concurrency slots, and each attempt's outcome
/// with the retry schedule, 410 and the disable-after-days rule.
public struct WebhookDeliveryStore: Sendable {
    public let client: PostgresClient
    public let cipher: TokenCipher
    public let policy: WebhookPolicy
    public let logger: Logger

    public init(client: PostgresClient, cipher: TokenCipher, policy: WebhookPolicy, logger: Logger) {
        self.client = client
        self.cipher = cipher
        self.policy = policy
        self.logger = logger
    }

    /// Inserts deliveries and their jobs in the caller's transaction.
    static func insert(deliveries: [(id: String, endpointID: String, eventID: String?, type: String, body: String)], jobs store: JobStore,
                       on connection: PostgresConnection, logger: Logger) async throws {
        guard !deliveries.isEmpty else { return }
        let jobs = try deliveries.map {
            try NewJob(kind: WebhookDeliveryArgs.kind, encoding: WebhookDeliveryArgs(deliveryID: $0.id), queue: WebhookDeliveryArgs.queue,
                       maxAttempts: 25, uniqueKey: "webhook:\($0.id)")
        }
        let inserted = try await store.insert(jobs, on: connection)
        try await connection.query("""
            INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, job_id, next_attempt_at)
            SELECT id, endpoint_id, nullif(event_id, ''), event_type, body, job_id, now()
              FROM unnest(\(deliveries.map(\.id))::text[], \(deliveries.map(\.endpointID))::text[], \(deliveries.map { $0.eventID ?? "" })::text[],
                          \(deliveries.map(\.type))::text[], \(deliveries.map(\.body))::text[], \(inserted.map(\.id))::int8[])
                   AS d(id, endpoint_id, event_id, event_type, body, job_id)
            """, logger: logger)
    }

    /// Turns up to `limit` undispatched outbox events into deliveries for the active
    /// endpoints subscribed to them, and marks the events dispatched, in one transaction.
    /// Dispatchers may run this at once: each takes different events (`SKIP LOCKED`).
    /// - Returns: how many events were dispatched.
    public func fanOut(limit: Int = 500) async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            let events = try await connection.query("""
                SELECT id FROM domain_events WHERE dispatched_at IS NULL ORDER BY created_at, id LIMIT \(Int32(limit)) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            var eventIDs: [String] = []
            for try await id in events.decode(String.self) { eventIDs.append(id) }
            guard !eventIDs.isEmpty else { return 0 }
            let matches = try await connection.query("""
                SELECT e.id, w.id, e.type,
                       jsonb_build_object('type', e.type, 'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                          'data', e.data)::text
                  FROM domain_events e JOIN webhook_endpoints w ON w.user_id = e.user_id AND w.status = 'active' AND e.type = ANY(w.events)
                 WHERE e.id = ANY(\(eventIDs))
                 ORDER BY e.created_at, e.id, w.id
                """, logger: logger)
            var deliveries: [(id: String, endpointID: String, eventID: String?, type: String, body: String)] = []
            for try await (eventID, endpointID, type, body) in matches.decode((String, String, String, String).self) {
                deliveries.append((PrefixedID.make("msg_"), endpointID, eventID, type, body))
            }
            try await Self.insert(deliveries: deliveries, jobs: JobStore(client: client, logger: logger), on: connection, logger: logger)
            try await connection.query("UPDATE domain_events SET dispatched_at = now() WHERE id = ANY(\(eventIDs))", logger: logger)
            return eventIDs.count
        }
    }

    /// Where a delivery stands when its job runs.
    public enum Start: Sendable {
        case send(WebhookAttempt)
        /// The endpoint has `concurrencyPerEndpoint` attempts in flight: try again shortly.
        case busy
        /// Delivered, given up, or its endpoint disabled: nothing to send.
        case finished
    }

    /// Takes one of the endpoint's concurrency slots for the delivery's next attempt. The
    /// endpoint's row lock serializes the count, and a slot lapses by itself
    /// (`sending_until`) if its sender dies.
    public func begin(deliveryID: String) async throws -> Start {
        let slot = policy.timeout.seconds + 30
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT d.status, d.sending_until > now(), d.event_type, w.id, w.status, w.url, w.secret
                  FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                 WHERE d.id = \(deliveryID) FOR UPDATE OF w, d
                """, logger: logger)
            var found: (String, Bool?, String, String, String, String, ByteBuffer)?
            for try await row in rows.decode((String, Bool?, String, String, String, String, ByteBuffer).self) { found = row }
            guard let (status, inFlight, type, endpointID, endpointStatus, url, sealed) = found else { return .finished }
            guard status == "pending" || (status == "sending" && inFlight != true) else { return status == "sending" ? .busy : .finished }
            if endpointStatus != "active" && type != "webhook.test" {
                try await connection.query("""
                    UPDATE webhook_deliveries SET status = 'cancelled', finished_at = now(), sending_until = NULL WHERE id = \(deliveryID)
                    """, logger: logger)
                return .finished
            }
            // With the endpoint locked, counting its attempts in flight and taking a slot is one
            // statement (a new snapshot, after the lock: it sees the slots taken before).
            let started = try await connection.query("""
                UPDATE webhook_deliveries SET status = 'sending', attempts = attempts + 1, sending_until = now() + make_interval(secs => \(slot))
                 WHERE id = \(deliveryID)
                   AND (SELECT count(*) FROM webhook_deliveries
                         WHERE endpoint_id = \(endpointID) AND status = 'sending' AND sending_until > now() AND id <> \(deliveryID))
                       < \(Int64(policy.concurrencyPerEndpoint))
                RETURNING attempts, body
                """, logger: logger)
            for try await (number, body) in started.decode((Int32, String).self) {
                return .send(WebhookAttempt(deliveryID: deliveryID, endpointID: endpointID, url: url,
                                            secret: try cipher.open(Data(buffer: sealed), context: endpointID), body: body, number: Int(number)))
            }
            return .busy
        }
    }

    /// Records an attempt and decides what follows: done, a retry after the returned wait
    /// (the schedule's, or the receiver's `Retry-After`), or giving up. A 410 disables the
    /// endpoint at once; an endpoint failing for `disableAfter` is disabled and its owner told.
    /// - Returns: the wait before the next attempt, or nil when the delivery is finished.
    public func finish(_ attempt: WebhookAttempt, result: WebhookAttemptResult) async throws -> Duration? {
        if result.succeeded {
            try await recordSuccess(attempt, result: result)
            return nil
        }
        return try await client.withTransaction(logger: logger) { connection in
            // The endpoint first, then the delivery: the order deleting an endpoint takes them in
            // (its row, then the cascade), so the two never deadlock.
            try await Self.lockEndpoint(attempt.endpointID, on: connection, logger: logger)
            // The endpoint (and so the delivery) may have been deleted while the attempt was out.
            let exists = try await connection.query("SELECT 1 FROM webhook_deliveries WHERE id = \(attempt.deliveryID) FOR UPDATE", logger: logger)
            var found = false
            for try await _ in exists { found = true }
            guard found else { return nil }
            try await connection.query("""
                INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, response_body, error)
                VALUES (\(attempt.deliveryID), \(Int32(attempt.number)), \(result.statusCode.map { Int32(clamping: $0) }), \(Int32(clamping: result.latencyMilliseconds)),
                        \(result.responseBody), \(result.error))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            let rows = try await connection.query("""
                UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now())
                 WHERE id = \(attempt.endpointID) RETURNING now() - failing_since > make_interval(secs => \(policy.disableAfter.seconds))
                """, logger: logger)
            var failingTooLong = false
            for try await value in rows.decode(Bool.self) { failingTooLong = value }
            if result.statusCode == 410 {
                try await disable(attempt, reason: "The receiver answered 410 Gone", on: connection)
                return nil
            }
            if failingTooLong {
                try await disable(attempt, reason: "Every delivery failed for \(Int(policy.disableAfter.seconds / 3600)) hours", on: connection)
                return nil
            }
            guard let scheduled = policy.retryDelay(after: attempt.number) else {
                try await connection.query("""
                    UPDATE webhook_deliveries SET status = 'failed', finished_at = now(), sending_until = NULL WHERE id = \(attempt.deliveryID)
                    """, logger: logger)
                return nil
            }
            let wait = result.retryAfter.map { min(max($0, .seconds(1)), .seconds(86_400)) } ?? scheduled
            try await connection.query("""
                UPDATE webhook_deliveries SET status = 'pending', sending_until = NULL,
                       next_attempt_at = now() + make_interval(secs => \(wait.seconds))
                 WHERE id = \(attempt.deliveryID)
                """, logger: logger)
            return wait
        }
    }

    /// The common case in one statement: the delivery succeeded, its attempt is logged and
    /// the endpoint is failing no more. Nothing when the delivery was deleted meanwhile.
    /// Locks an endpoint's row for a change that will touch its deliveries too.
    static func lockEndpoint(_ id: String, on connection: PostgresConnection, logger: Logger) async throws {
        let rows = try await connection.query("SELECT 1 FROM webhook_endpoints WHERE id = \(id) FOR NO KEY UPDATE", logger: logger)
        for try await _ in rows {}
    }

    private func recordSuccess(_ attempt: WebhookAttempt, result: WebhookAttemptResult) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.lockEndpoint(attempt.endpointID, on: connection, logger: logger)
            try await recordSuccess(attempt, result: result, on: connection)
        }
    }

    private func recordSuccess(_ attempt: WebhookAttempt, result: WebhookAttemptResult, on connection: PostgresConnection) async throws {
        try await connection.query("""
            WITH delivered AS (
                UPDATE webhook_deliveries SET status = 'succeeded', finished_at = now(), sending_until = NULL
                 WHERE id = \(attempt.deliveryID) RETURNING id, endpoint_id
            ), logged AS (
                INSERT INTO webhook_attempts (delivery_id, attempt, status_code, latency_ms, response_body, error)
                SELECT id, \(Int32(attempt.number)), \(result.statusCode.map { Int32(clamping: $0) }), \(Int32(clamping: result.latencyMilliseconds)),
                       \(result.responseBody), \(result.error)
                  FROM delivered
                ON CONFLICT DO NOTHING
            )
            UPDATE webhook_endpoints w SET failing_since = NULL
              FROM delivered WHERE w.id = delivered.endpoint_id AND w.failing_since IS NOT NULL
            """, logger: logger)
    }

    /// Disables the attempt's endpoint, fails the delivery and emails the owner.
    private func disable(_ attempt: WebhookAttempt, reason: String, on connection: PostgresConnection) async throws {
        try await connection.query("""
            UPDATE webhook_deliveries SET status = 'failed', finished_at = now(), sending_until = NULL WHERE id = \(attempt.deliveryID)
            """, logger: logger)
        let rows = try await connection.query("""
            UPDATE webhook_endpoints w SET status = 'disabled', disabled_reason = \(reason), updated_at = now()
              FROM users u WHERE w.id = \(attempt.endpointID) AND u.id = w.user_id AND w.status = 'active'
            RETURNING u.email, w.url
            """, logger: logger)
        for try await (email, url) in rows.decode((String, String).self) {
            try await EmailOutbox(logger: logger).enqueue(
                to: email, subject: "A YTEmpire webhook was disabled",
                body: "Deliveries to \(url) were stopped: \(reason). Fix the receiver, check it with POST /webhooks/\(attempt.endpointID)/test, then re-enable it with PUT /webhooks/\(attempt.endpointID) {\"active\": true}.",
                on: connection)
        }
    }

    /// Deletes finished deliveries (and their log) older than `age`.
    public func prune(olderThan age: Duration, limit: Int = 10_000) async throws -> Int {
        let rows = try await client.query("""
            WITH old AS (
                SELECT id FROM webhook_deliveries WHERE finished_at < now() - make_interval(secs => \(age.seconds)) LIMIT \(Int32(limit))
            )
            DELETE FROM webhook_deliveries d USING old WHERE d.id = old.id RETURNING 1
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
