import Domain
import Foundation
import Providers
import Sandbox
import TestSupport
import Testing

/// The account's plan follows its Stripe subscription: facts fetched from the sandbox are
/// applied only when not older than what the account holds, concurrently without a lost
/// update, and events are stored once.
@Suite struct BillingStoreTests {
    @Test func theSubscriptionsFactsSetThePlanAndOlderFactsAreIgnored() async throws {
        try await withDatabase { db in
            let billing = BillingStore(client: db.client, logger: db.logger)
            let user = try await db.createUser(tier: "free")
            let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: stateFile) }
            var configuration = StripeSandbox.Configuration()
            configuration.stateFile = stateFile
            let (customerID, facts) = try await StripeSandbox(configuration: configuration).withRunning { base -> (String, SubscriptionFacts?) in
                let stripe = StripeClient(baseURL: base, secretKey: "sk_test_sandbox")
                _ = try await stripe.createProduct(id: "prod_starter", name: "Starter", idempotencyKey: "p")
                let price = try await stripe.createPrice(product: "prod_starter", unitAmount: 2900, currency: "usd", interval: "month",
                                                         lookupKey: "starter_monthly", idempotencyKey: "pr")
                let customer = try await stripe.createCustomer(email: "\(user)@example.test", name: nil, metadata: ["user_id": user],
                                                               idempotencyKey: "customer-\(user)")
                let card = try await stripe.saveCard(paymentMethod: "pm_card_visa", customer: customer.id, idempotencyKey: "card")
                let sub = try await stripe.createSubscription(customer: customer.id, price: price.id, paymentMethod: card.paymentMethod,
                                                              metadata: [:], idempotencyKey: "sub-\(user)")
                return (customer.id, sub.facts)
            }
            let active = try #require(facts)
            #expect(active.tier == "starter" && active.status == "active")
            // One customer for life.
            #expect(try await billing.link(userID: user, stripeCustomerID: customerID) == customerID)
            #expect(try await billing.link(userID: user, stripeCustomerID: "cus_other") == customerID)
            #expect(try await billing.customerID(userID: user) == customerID)

            func tier() async throws -> String {
                let rows = try await db.client.query("SELECT subscription_tier FROM users WHERE id = \(user)", logger: db.logger)
                for try await tier in rows.decode(String.self) { return tier }
                return ""
            }
            #expect(try await billing.apply(active, customerID: customerID, asOf: 1_000, on: db.client) == .applied(tier: "starter", changed: true))
            #expect(try await tier() == "starter")
            // An older fact (an event that arrived late) changes nothing.
            var canceled = active
            canceled.status = "canceled"
            #expect(try await billing.apply(canceled, customerID: customerID, asOf: 999, on: db.client) == .stale)
            #expect(try await tier() == "starter")
            // Past due keeps the plan (the grace, Stripe's retries); ended gives it back.
            var pastDue = active
            pastDue.status = "past_due"
            #expect(try await billing.apply(pastDue, customerID: customerID, asOf: 1_100, on: db.client) == .applied(tier: "starter", changed: true))
            #expect(try await db.scalar("SELECT count(*) FROM billing_accounts WHERE user_id = \(user) AND past_due_since IS NOT NULL") == 1)
            #expect(try await billing.apply(canceled, customerID: customerID, asOf: 1_200, on: db.client) == .applied(tier: "free", changed: true))
            #expect(try await tier() == "free")
            #expect(try await billing.apply(active, customerID: "cus_nobody", asOf: 2_000, on: db.client) == .unknownCustomer)

            // Facts racing in: whatever the order they land in, the newest stands.
            let statuses = ["active", "past_due", "canceled", "active", "unpaid", "past_due", "active", "canceled"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, status) in statuses.enumerated() {
                    var fact = active
                    fact.status = status
                    group.addTask { _ = try await billing.apply(fact, customerID: customerID, asOf: 3_000 + index, on: db.client) }
                }
                try await group.waitForAll()
            }
            #expect(try await db.scalar("SELECT stripe_as_of FROM billing_accounts WHERE user_id = \(user)") == 3_007)
            #expect(try await db.scalar("SELECT count(*) FROM billing_accounts WHERE user_id = \(user) AND status = 'canceled'") == 1)
            #expect(try await tier() == "free")

            // Events are stored once.
            #expect(try await billing.record(eventID: "evt_1", type: "invoice.paid", created: 3_100, payload: #"{"id": "evt_1"}"#, on: db.client))
            #expect(try await !billing.record(eventID: "evt_1", type: "invoice.paid", created: 3_100, payload: #"{"id": "evt_1"}"#, on: db.client))
        }
    }

    @Test func onlyOurMonthlyPricesNameATier() {
        #expect(SubscriptionFacts.tier(lookupKey: "professional_monthly") == "professional")
        #expect(SubscriptionFacts.tier(lookupKey: "professional") == nil)
        #expect(SubscriptionFacts.tier(lookupKey: nil) == nil)
        #expect(SubscriptionFacts.tier(lookupKey: "_monthly") == nil)
    }
}
