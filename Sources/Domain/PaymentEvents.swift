import Foundation
import Logging
import PostgresNIO
import Queue

/// The queue job that handles one stored Stripe event (`stripe.event`).
public struct StripeEventArgs: Codable, Sendable, Equatable {
    public var eventID: String

    public init(eventID: String) { self.eventID = eventID }

    enum CodingKeys: String, CodingKey { case eventID = "event_id" }

    public static let kind = "stripe.event"
}

/// A Stripe event as its webhook delivers it: only the fields the product reads, each
/// optional (the body is signed by Stripe, but its shape is still checked, never trusted).
struct StripeEventPayload: Decodable {
    struct Body: Decodable { var object: StripeObject }

    struct StripeObject: Decodable {
        struct Parent: Decodable {
            struct SubscriptionDetails: Decodable { var subscription: String? }
            var subscriptionDetails: SubscriptionDetails?
        }

        var id: String?
        var object: String?
        var customer: String?
        var parent: Parent?
        var number: String?
        var currency: String?
        var amountPaid: Int?
        var amountDue: Int?
        var attemptCount: Int?
        var nextPaymentAttempt: Int?
        var billingReason: String?
        var hostedInvoiceUrl: String?
    }

    var id: String
    var type: String
    var created: Int
    var data: Body

    static func parse(_ payload: Data) -> StripeEventPayload? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(StripeEventPayload.self, from: payload)
    }

    /// The subscription whose facts the event may have changed.
    var subscriptionID: String? {
        if type.hasPrefix("customer.subscription.") { return data.object.id }
        if type.hasPrefix("invoice.") { return data.object.parent?.subscriptionDetails?.subscription }
        return nil
    }
}

extension Payments {
    /// The event types handled; others are stored and acknowledged.
    public static let handledEvents: Set<String> = [
        "invoice.paid", "invoice.payment_failed", "customer.subscription.created", "customer.subscription.updated",
        "customer.subscription.deleted", "payment_method.attached", "payment_method.detached",
    ]

    /// What receiving a webhook did.
    public enum Receipt: Sendable, Equatable {
        /// Stored and queued for handling.
        case queued
        /// Received before (Stripe delivers at least once): nothing done again.
        case duplicate
        /// Stored; not a type the product acts on.
        case ignored
    }

    /// Stores a verified Stripe event once and queues its handling in the same transaction.
    /// - Throws: `invalid` when the body is not a Stripe event.
    public func receive(payload: Data) async throws -> Receipt {
        guard let event = StripeEventPayload.parse(payload), event.id.hasPrefix("evt_"), event.id.utf8.count <= 255,
              event.type.utf8.count <= 255
        else { throw DomainError(.invalid, "The body is not a Stripe event") }
        guard let text = String(data: payload, encoding: .utf8) else { throw DomainError(.invalid, "The body is not UTF-8") }
        let jobs = JobStore(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { connection in
            guard try await store.record(eventID: event.id, type: event.type, created: event.created, payload: text, on: connection) else {
                return .duplicate
            }
            guard Self.handledEvents.contains(event.type) else {
                try await store.markApplied(event.id, on: connection)
                return .ignored
            }
            let job = try NewJob(kind: StripeEventArgs.kind, encoding: StripeEventArgs(eventID: event.id), maxAttempts: 25,
                                 uniqueKey: "stripe-event:\(event.id)")
            _ = try await jobs.insert([job], on: connection)
            return .queued
        }
    }

    /// Handles a stored event: the subscription it concerns is fetched afresh and applied (so
    /// events in any order, twice or late, leave the newest facts), and the user is told of
    /// payments (`payment.succeeded`, `payment.failed` with an email). Under the account's
    /// billing lock, so a fetch and its apply never interleave with another.
    public func handle(eventID: String) async throws {
        guard let stored = try await store.event(eventID) else { return }
        guard let event = StripeEventPayload.parse(Data(stored.payload.utf8)) else {
            logger.warning("stored Stripe event is not readable", metadata: ["event": "\(eventID)"])
            try await store.markApplied(eventID, on: client)
            return
        }
        guard let customer = event.data.object.customer, let userID = try await store.userID(customerID: customer) else {
            // Not one of ours (another integration's customer), or a card detached from no one.
            try await store.markApplied(eventID, on: client)
            return
        }
        try await withBillingLock(userID: userID, wait: true) { connection in
            if let subscriptionID = event.subscriptionID {
                try await apply(try await gateway.subscription(subscriptionID), asOf: event.created, on: connection)
            }
            switch event.type {
            case "invoice.paid": try await tellPayment(event, succeeded: true, userID: userID, on: connection)
            case "invoice.payment_failed": try await tellPayment(event, succeeded: false, userID: userID, on: connection)
            default: break
            }
            try await store.markApplied(eventID, on: connection)
        }
    }

    /// `payment.succeeded` or `payment.failed` for the user's webhooks, and for a failure an
    /// email saying what happens next.
    func tellPayment(_ event: StripeEventPayload, succeeded: Bool, userID: String, on connection: PostgresConnection) async throws {
        let invoice = event.data.object
        let amount = (succeeded ? invoice.amountPaid : invoice.amountDue) ?? 0
        let currency = invoice.currency ?? settings.currency
        var data: [String: any Sendable] = ["amount_cents": amount, "currency": currency]
        if let id = invoice.id { data["invoice_id"] = id }
        if let number = invoice.number { data["invoice_number"] = number }
        if let reason = invoice.billingReason { data["billing_reason"] = reason }
        if !succeeded {
            data["attempt_count"] = invoice.attemptCount ?? 1
            if let next = invoice.nextPaymentAttempt {
                data["next_payment_attempt"] = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(next)))
            }
        }
        try await DomainEvents.record(type: succeeded ? "payment.succeeded" : "payment.failed", userID: userID, data: DomainEvents.json(data),
                                      on: connection, logger: logger)
        guard !succeeded else { return }
        let rows = try await connection.query("SELECT email FROM users WHERE id = \(userID)", logger: logger)
        for try await email in rows.decode(String.self) {
            let graceDays = max(0, Int(settings.grace.components.seconds / 86_400))
            let next = invoice.nextPaymentAttempt.map {
                "We will try again on \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval($0)))). "
            } ?? "We will not try again; your plan returns to free. "
            try await EmailOutbox(logger: logger).enqueue(
                to: email, subject: "Your YTEmpire payment failed",
                body: "We could not charge \(Self.format(cents: amount, currency: currency)) for your YTEmpire plan. \(next)"
                    + "Update your card under Payment methods; new videos can be submitted for \(graceDays) more days while the payment is due.",
                on: connection)
        }
    }

    /// `29.00 USD`: an amount in the currency's minor unit, as text, without floating point.
    static func format(cents: Int, currency: String) -> String {
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(cents < 0 ? "-" : "")\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction) \(currency.uppercased())"
    }
}
