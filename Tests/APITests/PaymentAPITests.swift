@testable import API
import Domain
import Foundation
import HTTPTypes
import Providers
import Sandbox
import TestSupport
import Synchronization
import Testing

/// Payments through the API against the Stripe sandbox, the customer on a test clock: a year
/// of one account (a declined card, subscribing, an upgrade with its proration, a downgrade
/// waiting for the period's end and refused below usage, renewals, a failed renewal through
/// the grace to free, cancelling at the period's end and at once), Stripe's events delivered
/// twice and in reverse order, handled by a worker; and the plan's limits checked through the
/// API in each state.
@Suite struct PaymentAPITests {
    static let webhookSecret = "whsec_payment_api_tests"

    /// The API, a worker for `stripe.event` jobs and the Stripe sandbox, on a fresh database.
    struct Harness: Sendable {
        let db: TestDatabase
        let api: APIClient
        let stripe: StripeClient
        let delivered: DeliveredEvents

        /// Delivers every event the sandbox made since the last call, signed as Stripe signs
        /// them: newest first and each twice (Stripe promises neither order nor once), then
        /// waits until the worker handled them all.
        func deliverEvents() async throws {
            let fresh = try await stripe.eventBodies(limit: 100).filter { delivered.add($0.id) }
            for event in fresh.reversed() + fresh.reversed() {
                let reply = try await post(event.body)
                #expect(reply.status == .ok, "\(reply.body)")
            }
            let handled = try await eventually(timeout: .seconds(30)) {
                try await db.scalar("SELECT count(*) FROM stripe_events WHERE applied_at IS NULL") == 0
            }
            #expect(handled, "every stored event is handled")
        }

        func post(_ body: Data, secret: String = PaymentAPITests.webhookSecret, at time: Date = Date()) async throws -> APIClient.Reply {
            let header = StripeSignature.header(payload: body, secret: secret, timestamp: Int(time.timeIntervalSince1970))
            return try await api.call(.post, "/payment/webhook", raw: String(decoding: body, as: UTF8.self),
                                      headers: [HTTPField.Name("Stripe-Signature")!: header])
        }

        /// The user's customer's test clock, moved on to `date`.
        func advance(_ userID: String, to date: Date) async throws {
            let customer = try await stripe.customer(try #require(try await BillingStore(client: db.client, logger: db.logger).customerID(userID: userID)))
            _ = try await stripe.advance(testClock: try #require(customer.testClock), to: date)
        }

        /// The subscription's period end as the API shows it.
        func periodEnd(_ token: String) async throws -> Date {
            try #require(try await api.call(.get, "/payment/subscription", token: token).decode(Components.Schemas.Subscription.self).currentPeriodEnd)
        }

        /// tier, status, and the limits as (videos, channels, accounts).
        func plan(_ token: String) async throws -> (tier: String, status: String, limits: [Int], pending: String?) {
            let reply = try await api.call(.get, "/payment/subscription", token: token)
            #expect(reply.status == .ok, "\(reply.body)")
            let subscription = try reply.decode(Components.Schemas.Subscription.self)
            return (subscription.tier.rawValue, subscription.status.rawValue,
                    [subscription.limits.videosPerMonth, subscription.limits.channels, subscription.limits.youtubeAccounts],
                    subscription.pendingTier?.rawValue)
        }

        func events(_ type: String, userID: String) async throws -> Int {
            try await db.scalar("SELECT count(*) FROM domain_events WHERE user_id = \(userID) AND type = \(type)")
        }
    }

    /// Event ids already delivered.
    final class DeliveredEvents: Sendable {
        let ids = Mutex<Set<String>>([])
        /// - Returns: whether `id` is new.
        func add(_ id: String) -> Bool { ids.withLock { $0.insert(id).inserted } }
    }

    func withPayments<T: Sendable>(_ body: @Sendable (Harness) async throws -> T) async throws -> T {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-api-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stateFile) }
        var configuration = StripeSandbox.Configuration()
        configuration.stateFile = stateFile
        return try await withDatabase { db in
            try await StripeSandbox(configuration: configuration).withRunning { base in
                let stripe = StripeClient(baseURL: base, secretKey: "sk_test_sandbox")
                let payments = Payments(client: db.client, gateway: StripeGateway(stripe: stripe, testClocks: true), logger: db.logger)
                return try await PipelineFleet(db: db).run(workers: 1, payments: payments, queues: ["default": 2]) {
                    try await withAPI(db, payments: payments, stripeWebhookSecrets: ["whsec_old_secret", Self.webhookSecret]) { api in
                        try await body(Harness(db: db, api: api, stripe: stripe, delivered: DeliveredEvents()))
                    }
                }
            }
        }
    }

    @Test func aYearOfOneSubscriptionWithItsLimitsFollowingThroughTheAPI() async throws {
        try await withPayments { h in
            let api = h.api
            let token = try await signUp(api, h.db, "payer@example.com")
            let userID = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id

            // Free, nothing at Stripe yet.
            var plan = try await h.plan(token)
            #expect(plan.tier == "free" && plan.status == "none" && plan.limits == [10, 1, 1])
            #expect(try await api.call(.get, "/payment/invoices", token: token).decode(Components.Schemas.InvoicePage.self).invoices.isEmpty)

            // Card numbers never come in, whatever field they hide in, and are not echoed.
            for body: [String: Any] in [["payment_method_id": "4242424242424242"], ["payment_method_id": "4242 4242 4242 4242"],
                                        ["payment_method_id": "pm_card_visa", "card": ["number": "4242424242424242", "cvc": "123"]],
                                        ["payment_method_id": "pm_card_visa", "number": "4000000000000002"]] {
                let refused = try await api.call(.post, "/payment/methods", json: body, token: token)
                #expect(try refused.status == .badRequest && (refused.decode(Components.Schemas.ErrorEnvelope.self).error) == "validation_error", "\(refused.body)")
                #expect(!String(decoding: refused.data, as: UTF8.self).contains("4242"))
                #expect(!String(decoding: refused.data, as: UTF8.self).contains("4000000000000002"))
            }
            let subscribeRefused = try await api.call(.post, "/payment/subscribe", json: ["tier": "starter", "payment_method_id": "5555555555554444"],
                                                      token: token)
            #expect(subscribeRefused.status == .badRequest)

            // A declined card: 402 with the bank's reason, and nothing changes.
            let declined = try await api.call(.post, "/payment/subscribe", json: ["tier": "starter", "payment_method_id": "pm_card_chargeDeclinedInsufficientFunds"],
                                              token: token)
            #expect(try declined.status.code == 402 && (declined.decode(Components.Schemas.ErrorEnvelope.self).error) == "card_declined", "\(declined.body)")
            #expect(try (declined.decode(Components.Schemas.ErrorEnvelope.self).details?.reason) == "insufficient_funds")
            #expect(try await h.plan(token).tier == "free")

            // Subscribing: the plan's limits at once, the card shown, the profile's expiry set.
            let subscribed = try await api.call(.post, "/payment/subscribe", json: ["tier": "starter", "payment_method_id": "pm_card_visa"], token: token)
            #expect(subscribed.status == .created, "\(subscribed.body)")
            #expect(try subscribed.decode(Components.Schemas.Subscription.self).tier.rawValue == "starter" && subscribed.decode(Components.Schemas.Subscription.self).status.rawValue == "active")
            #expect(try subscribed.decode(Components.Schemas.Subscription.self).priceCents == 2900 && subscribed.decode(Components.Schemas.Subscription.self).currency == "usd")
            #expect(try subscribed.decode(Components.Schemas.Subscription.self).paymentMethod?.last4 == "4242")
            #expect((try await api.call(.post, "/payment/subscribe", json: ["tier": "professional", "payment_method_id": "pm_card_visa"],
                                        token: token)).status == .conflict)
            let profile = try await api.call(.get, "/users/profile", token: token)
            let subscription = try profile.decode(Components.Schemas.Profile.self).subscription
            #expect(subscription.tier == "starter" && subscription.videosRemaining == 100)
            // Untyped on purpose: the contract leaves expires_at's type open (a date-time, or null on the free plan).
            #expect((profile.body["subscription"] as? [String: Any])?["expires_at"] is String)
            try await h.deliverEvents()
            #expect(try await h.events("payment.succeeded", userID: userID) == 1, "one payment, though its event came twice")
            #expect(try await h.events("subscription.updated", userID: userID) >= 1)
            // Channels follow the plan: three on starter.
            for index in 1...3 {
                #expect(try await api.call(.post, "/channels", json: ["name": "Channel \(index)"], token: token).status == .created)
            }
            #expect(try await api.call(.post, "/channels", json: ["name": "One too many"], token: token).status == .forbidden)

            // Upgrading: now, with the unused time credited and the rest charged at once.
            let firstEnd = try await h.periodEnd(token)
            try await h.advance(userID, to: firstEnd.addingTimeInterval(-15 * 86_400))
            let upgraded = try await api.call(.put, "/payment/subscription", json: ["tier": "professional"], token: token)
            #expect(try upgraded.status == .ok && upgraded.decode(Components.Schemas.Subscription.self).tier.rawValue == "professional", "\(upgraded.body)")
            #expect(try await h.plan(token).limits == [1000, 10, 15])
            #expect(try await api.call(.post, "/channels", json: ["name": "Channel 4"], token: token).status == .created)
            let invoices = try await api.call(.get, "/payment/invoices?limit=10", token: token).decode(Components.Schemas.InvoicePage.self).invoices
            let proration = try #require(invoices.first)
            let lines = proration.lines
            #expect(proration.status == .paid && lines.count == 2 && lines.allSatisfy(\.proration))
            #expect(lines.contains { $0.amountCents < 0 } && proration.amountPaidCents > 0)
            #expect(proration.amountPaidCents < 9900 - 2900, "only the rest of the period is charged")
            try await h.deliverEvents()

            // A downgrade below what the account uses names what to remove; then waits for the period's end.
            let tooMany = try await api.call(.put, "/payment/subscription", json: ["tier": "starter"], token: token)
            #expect(try tooMany.status == .conflict && (tooMany.decode(Components.Schemas.ErrorEnvelope.self).message).contains("1 of your 4 channels"), "\(tooMany.body)")
            try await h.db.client.query("DELETE FROM channels WHERE user_id = \(userID) AND name = 'Channel 4'", logger: h.db.logger)
            let downgraded = try await api.call(.put, "/payment/subscription", json: ["tier": "starter"], token: token)
            #expect(try downgraded.status == .ok && downgraded.decode(Components.Schemas.Subscription.self).tier.rawValue == "professional"
                    && downgraded.decode(Components.Schemas.Subscription.self).pendingTier?.rawValue == "starter", "\(downgraded.body)")
            try await h.deliverEvents()
            plan = try await h.plan(token)
            #expect(plan.tier == "professional" && plan.pending == "starter" && plan.limits == [1000, 10, 15], "paid for until the period ends")

            // The renewal: the downgrade takes effect, charged at the lower price.
            try await h.advance(userID, to: firstEnd.addingTimeInterval(3600))
            try await h.deliverEvents()
            plan = try await h.plan(token)
            #expect(plan.tier == "starter" && plan.pending == nil && plan.status == "active" && plan.limits == [100, 3, 3])
            let renewal = try await api.call(.get, "/payment/invoices?limit=1", token: token).decode(Components.Schemas.InvoicePage.self).invoices.first
            #expect(renewal?.amountPaidCents == 2900)

            // Months go by: each renews, the plan holds.
            for _ in 0..<6 {
                try await h.advance(userID, to: try await h.periodEnd(token).addingTimeInterval(3600))
                try await h.deliverEvents()
                #expect(try await h.plan(token).tier == "starter")
            }
            #expect(try await h.events("payment.succeeded", userID: userID) == 9, "first month, proration, seven renewals")
            let page = try await api.call(.get, "/payment/invoices?limit=4", token: token).decode(Components.Schemas.InvoicePage.self)
            #expect(page.hasMore && page.invoices.count == 4)
            let cursor = try #require(page.nextCursor)
            let next = try await api.call(.get, "/payment/invoices?limit=4&starting_after=\(cursor)", token: token).decode(Components.Schemas.InvoicePage.self)
            #expect(next.invoices.first?.id != cursor && !next.invoices.map(\.id).contains(where: page.invoices.map(\.id).contains))

            // A card that fails at renewal: past due, the plan kept through the grace, then refused.
            #expect(try await api.call(.post, "/payment/methods", json: ["payment_method_id": "pm_card_chargeCustomerFail"], token: token).status == .created)
            let methods = try await api.call(.get, "/payment/methods", token: token).decode(Components.Schemas.PaymentMethodList.self).paymentMethods
            #expect(methods.first?.last4 == "0341" && methods.first?._default == true && methods.count == 2)
            try await h.advance(userID, to: try await h.periodEnd(token).addingTimeInterval(3600))
            try await h.deliverEvents()
            plan = try await h.plan(token)
            #expect(plan.status == "past_due" && plan.tier == "starter" && plan.limits == [100, 3, 3])
            #expect(try await h.events("payment.failed", userID: userID) == 1)
            #expect(try await h.db.scalar("SELECT count(*) FROM email_outbox WHERE recipient = 'payer@example.com' AND subject LIKE '%payment failed%'") == 1)
            let channelID = try #require(try await api.call(.get, "/channels", token: token).decode(Components.Schemas.ChannelList.self).channels.first?.id)
            let duringGrace = try await api.call(.post, "/videos/generate", json: ["channel_id": channelID, "title": "In grace", "cost_limit": 5.0], token: token)
            #expect(duringGrace.status.code < 300, "\(duringGrace.body)")
            // The grace runs in real time: as if eight days had passed since the renewal failed.
            try await h.db.client.query("UPDATE billing_accounts SET past_due_since = now() - interval '8 days' WHERE user_id = \(userID)", logger: h.db.logger)
            let refused = try await api.call(.post, "/videos/generate", json: ["channel_id": channelID, "title": "Overdue", "cost_limit": 5.0], token: token)
            #expect(try refused.status.code == 402 && (refused.decode(Components.Schemas.ErrorEnvelope.self).error) == "payment_required", "\(refused.body)")

            // Stripe's retries fail too and it gives up: back to free, nothing deleted.
            try await h.advance(userID, to: try await h.periodEnd(token).addingTimeInterval(20 * 86_400))
            try await h.deliverEvents()
            plan = try await h.plan(token)
            #expect(plan.tier == "free" && plan.status == "canceled" && plan.limits == [10, 1, 1])
            #expect((try await api.call(.get, "/users/profile", token: token).body["subscription"] as? [String: Any])?["expires_at"] is NSNull)
            #expect(try await h.db.scalar("SELECT count(*) FROM channels WHERE user_id = \(userID)") == 3)
            #expect(try await api.call(.post, "/channels", json: ["name": "Over free"], token: token).status == .forbidden)

            // Back with a good card, then cancelled at the period's end: the plan until then.
            let again = try await api.call(.post, "/payment/subscribe", json: ["tier": "starter", "payment_method_id": "pm_card_mastercard"], token: token)
            #expect(try again.status == .created && again.decode(Components.Schemas.Subscription.self).tier.rawValue == "starter", "\(again.body)")
            try await h.deliverEvents()
            let cancelling = try await api.call(.delete, "/payment/subscription", token: token)
            #expect(try cancelling.status == .ok && cancelling.decode(Components.Schemas.Subscription.self).cancelAtPeriodEnd && cancelling.decode(Components.Schemas.Subscription.self).tier.rawValue == "starter")
            try await h.deliverEvents()
            try await h.advance(userID, to: try await h.periodEnd(token).addingTimeInterval(3600))
            try await h.deliverEvents()
            #expect(try await h.plan(token).tier == "free")

            // And cancelled at once.
            #expect(try await api.call(.post, "/payment/subscribe", json: ["tier": "professional", "payment_method_id": "pm_card_visa"], token: token).status == .created)
            #expect(try await h.plan(token).limits == [1000, 10, 15])
            let ended = try await api.call(.delete, "/payment/subscription?immediately=true", token: token)
            #expect(try ended.status == .ok && ended.decode(Components.Schemas.Subscription.self).tier.rawValue == "free" && ended.decode(Components.Schemas.Subscription.self).status.rawValue == "canceled", "\(ended.body)")
            try await h.deliverEvents()
            #expect(try await h.plan(token).tier == "free")
            #expect(try await api.call(.delete, "/payment/subscription", token: token).status == .conflict)
        }
    }

    @Test func aChangeIsDecidedOnTheSubscriptionAsStripeHoldsItNow() async throws {
        try await withPayments { h in
            let api = h.api
            let token = try await signUp(api, h.db, "renewal@example.com")
            let userID = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
            #expect(try await api.call(.post, "/payment/subscribe", json: ["tier": "professional", "payment_method_id": "pm_card_visa"],
                                       token: token).status == .created)
            let downgraded = try await api.call(.put, "/payment/subscription", json: ["tier": "starter"], token: token)
            #expect(try downgraded.decode(Components.Schemas.Subscription.self).tier.rawValue == "professional" && downgraded.decode(Components.Schemas.Subscription.self).pendingTier?.rawValue == "starter")
            // The renewal happens at Stripe (charged at the lower price) and no event has arrived yet.
            try await h.advance(userID, to: try await h.periodEnd(token).addingTimeInterval(3600))
            #expect(try await h.plan(token).tier == "professional", "the account has not heard of the renewal")
            // Asking for professional again is an upgrade from what was paid for now, charged at once, not a free take-back.
            let upgraded = try await api.call(.put, "/payment/subscription", json: ["tier": "professional"], token: token)
            #expect(try upgraded.status == .ok && upgraded.decode(Components.Schemas.Subscription.self).tier.rawValue == "professional" && upgraded.decode(Components.Schemas.Subscription.self).pendingTier == nil,
                    "\(upgraded.body)")
            let latest = try #require(try await api.call(.get, "/payment/invoices?limit=1", token: token).decode(Components.Schemas.InvoicePage.self).invoices.first)
            #expect(latest.status == .paid && latest.amountPaidCents > 0, "\(latest)")
            #expect(latest.lines.allSatisfy { $0.proration })
            try await h.deliverEvents()
            #expect(try await h.plan(token).tier == "professional")
            // A cursor that is not an invoice id is refused.
            #expect(try await api.call(.get, "/payment/invoices?starting_after=", token: token).status == .badRequest)
        }
    }

    @Test func stripesWebhookIsVerifiedStoredOnceAndOutsideTheUsersLimits() async throws {
        try await withPayments { h in
            let event = Data(#"{"id":"evt_test_1","object":"event","type":"customer.created","created":1767225600,"data":{"object":{"id":"cus_x","object":"customer"}}}"#.utf8)
            // A wrong secret, an old timestamp, no header, a body that is not an event: refused, not stored.
            #expect(try await h.post(event, secret: "whsec_wrong").status == .badRequest)
            #expect(try await h.post(event, at: Date().addingTimeInterval(-301)).status == .badRequest)
            #expect(try await h.api.call(.post, "/payment/webhook", raw: String(decoding: event, as: UTF8.self)).status == .badRequest)
            #expect(try await h.post(Data(#"{"hello":"world"}"#.utf8)).status == .badRequest)
            #expect(try await h.db.scalar("SELECT count(*) FROM stripe_events") == 0)
            // The current secret and the one being rolled out both verify; the second delivery is a duplicate.
            let first = try await h.post(event)
            #expect(try first.status == .ok && first.decode(Components.Schemas.WebhookReceipt.self).duplicate == false)
            let second = try await h.post(event, secret: "whsec_old_secret")
            #expect(try second.status == .ok && second.decode(Components.Schemas.WebhookReceipt.self).duplicate == true)
            #expect(try await h.db.scalar("SELECT count(*) FROM stripe_events") == 1)
            // A signed event whose text Postgres's jsonb would refuse (an escaped NUL) is still received.
            let withNul = Data(#"{"id":"evt_test_2","object":"event","type":"customer.updated","created":1767225600,"data":{"object":{"id":"cus_x","name":"a\u0000b"}}}"#.utf8)
            #expect(try await h.post(withNul).status == .ok)
            #expect(second.headers[HTTPField.Name("X-RateLimit-Limit")!] == nil, "Stripe's deliveries are not counted against users' limits")
        }
    }
}
