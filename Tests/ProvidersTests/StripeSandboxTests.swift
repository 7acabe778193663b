import Domain
import Foundation
import Providers
@testable import Sandbox
import TestSupport
import Testing

/// The Stripe client against the Stripe sandbox: a year of one subscription on a test clock
/// (subscribe, a declined card, an upgrade with proration, renewals, a card that fails at
/// renewal through dunning to cancellation), idempotency keys, signed webhooks with retries,
/// and state that survives a restart; and Stripe's own Python library driving the sandbox.
@Suite struct StripeSandboxTests {
    static let secret = "whsec_test_sandbox_secret"

    static func sandbox(webhookURL: String?, stateFile: URL) -> StripeSandbox {
        var configuration = StripeSandbox.Configuration()
        configuration.webhookURL = webhookURL
        configuration.webhookSecret = secret
        configuration.stateFile = stateFile
        configuration.webhookRetryDelays = [.milliseconds(200), .milliseconds(400), .milliseconds(800)]
        return StripeSandbox(configuration: configuration)
    }

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text) ?? Date(timeIntervalSince1970: 0) }

    @Test func aSubscriptionsYearOnATestClock() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-sandbox-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stateFile) }
        let receiver = StripeWebhookReceiver(failFirst: 2)
        let kept: (customer: String, subscription: String) = try await receiver.run { hook in
            try await Self.sandbox(webhookURL: hook, stateFile: stateFile).withRunning { base in
                let stripe = StripeClient(baseURL: base, secretKey: "sk_test_sandbox")
                // A wrong key is refused as Stripe refuses it.
                await #expect(throws: StripeError.self) {
                    _ = try await StripeClient(baseURL: base, secretKey: "sk_test_wrong").prices(lookupKeys: ["basic_monthly"])
                }
                // Plans as products and prices, found again by lookup key.
                _ = try await stripe.createProduct(id: "prod_ytempire_basic", name: "Basic", idempotencyKey: "product-basic")
                _ = try await stripe.createProduct(id: "prod_ytempire_pro", name: "Pro", idempotencyKey: "product-pro")
                _ = try await stripe.createPrice(product: "prod_ytempire_basic", unitAmount: 900, currency: "usd", interval: "month",
                                                 lookupKey: "basic_monthly", idempotencyKey: "price-basic")
                _ = try await stripe.createPrice(product: "prod_ytempire_pro", unitAmount: 2900, currency: "usd", interval: "month",
                                                 lookupKey: "pro_monthly", idempotencyKey: "price-pro")
                let prices = Dictionary(uniqueKeysWithValues: try await stripe.prices(lookupKeys: ["basic_monthly", "pro_monthly"])
                    .compactMap { price in price.lookupKey.map { ($0, price) } })
                let basic = try #require(prices["basic_monthly"]), pro = try #require(prices["pro_monthly"])
                #expect(basic.unitAmount == 900 && pro.recurring?.interval == "month")

                // A customer on a clock; the same idempotency key gives the same customer, another body is refused.
                let start = Self.date("2026-01-01T00:00:00Z")
                let clock = try await stripe.createTestClock(frozenTime: start)
                let customer = try await stripe.createCustomer(email: "ada@example.com", name: "Ada", metadata: ["user_id": "usr_1"],
                                                               testClock: clock.id, idempotencyKey: "customer-usr_1")
                let again = try await stripe.createCustomer(email: "ada@example.com", name: "Ada", metadata: ["user_id": "usr_1"],
                                                            testClock: clock.id, idempotencyKey: "customer-usr_1")
                #expect(again.id == customer.id)
                let misuse = await #expect(throws: StripeError.self) {
                    _ = try await stripe.createCustomer(email: "eve@example.com", name: nil, metadata: [:], idempotencyKey: "customer-usr_1")
                }
                #expect(misuse?.type == "idempotency_error" && misuse?.status == 400)

                // Cards: a good one attached as a new id; a declining one refused with Stripe's reason.
                let visa = try await stripe.attach(paymentMethod: "pm_card_visa", customer: customer.id, idempotencyKey: "attach-1")
                #expect(visa.id != "pm_card_visa" && visa.card?.last4 == "4242" && visa.card?.brand == "visa")
                let declined = await #expect(throws: StripeError.self) {
                    _ = try await stripe.attach(paymentMethod: "pm_card_visa_chargeDeclinedInsufficientFunds", customer: customer.id,
                                                idempotencyKey: "attach-2")
                }
                #expect(declined?.status == 402 && declined?.isCardError == true && declined?.declineCode == "insufficient_funds")
                _ = try await stripe.setDefault(paymentMethod: visa.id, customer: customer.id, idempotencyKey: "default-1")

                // Subscribe: the first invoice is charged at once.
                let subscribed = try await stripe.createSubscription(customer: customer.id, price: basic.id, paymentMethod: nil,
                                                                     metadata: ["tier": "basic"], idempotencyKey: "subscribe-1")
                #expect(subscribed.status == "active")
                let item = try #require(subscribed.item)
                #expect(item.currentPeriodStart == Int(start.timeIntervalSince1970))
                #expect(item.currentPeriodEnd == Int(Self.date("2026-02-01T00:00:00Z").timeIntervalSince1970))
                let first = try await stripe.invoice(try #require(subscribed.latestInvoice))
                #expect(first.status == "paid" && first.amountPaid == 900 && first.billingReason == "subscription_create")

                // Halfway through January, an upgrade invoiced now: unused Basic credited, remaining Pro charged.
                _ = try await stripe.advance(testClock: clock.id, to: Self.date("2026-01-16T12:00:00Z"))
                let upgraded = try await stripe.changePrice(subscription: subscribed.id, item: item.id, price: pro.id,
                                                            proration: .alwaysInvoice, idempotencyKey: "upgrade-1")
                #expect(upgraded.item?.price.id == pro.id && upgraded.status == "active")
                let proration = try await stripe.invoice(try #require(upgraded.latestInvoice))
                #expect(proration.billingReason == "subscription_update" && proration.lines.data.allSatisfy(\.isProration))
                // 15.5 of 31 days remain: -450 for Basic, +1450 for Pro.
                #expect(proration.lines.data.map(\.amount).sorted() == [-450, 1450])
                #expect(proration.status == "paid" && proration.amountPaid == 1000)

                // Renewals on the clock: February and March at Pro's price.
                _ = try await stripe.advance(testClock: clock.id, to: Self.date("2026-03-02T00:00:00Z"))
                var invoices = try await stripe.invoices(customer: customer.id, limit: 10).data
                #expect(invoices.filter { $0.billingReason == "subscription_cycle" }.map(\.amountPaid) == [2900, 2900])
                let renewed = try await stripe.subscription(subscribed.id)
                #expect(renewed.item?.currentPeriodEnd == Int(Self.date("2026-04-01T00:00:00Z").timeIntervalSince1970))

                // The card starts failing: April's renewal fails, the subscription is past due,
                // Stripe retries over two weeks, then gives up and cancels it.
                let failing = try await stripe.attach(paymentMethod: "pm_card_chargeCustomerFail", customer: customer.id, idempotencyKey: "attach-3")
                _ = try await stripe.setDefault(paymentMethod: failing.id, customer: customer.id, idempotencyKey: "default-2")
                _ = try await stripe.advance(testClock: clock.id, to: Self.date("2026-04-02T00:00:00Z"))
                #expect(try await stripe.subscription(subscribed.id).status == "past_due")
                let april = try #require(try await stripe.invoices(customer: customer.id, limit: 1).data.first)
                #expect(april.status == "open" && april.attemptCount == 1 && april.nextPaymentAttempt != nil)
                _ = try await stripe.advance(testClock: clock.id, to: Self.date("2026-04-20T00:00:00Z"))
                let ended = try await stripe.subscription(subscribed.id)
                #expect(ended.status == "canceled" && ended.endedAt != nil)
                invoices = try await stripe.invoices(customer: customer.id, limit: 10).data
                #expect(invoices.first?.status == "uncollectible" && invoices.first?.attemptCount == 4)

                // Every event reaches the endpoint, signed, the first two after retries.
                let expected = ["customer.subscription.created", "invoice.paid", "invoice.payment_failed",
                                "customer.subscription.updated", "customer.subscription.deleted", "payment_method.attached"]
                let arrived = try await eventually(timeout: .seconds(30)) {
                    Set(expected).isSubset(of: Set(receiver.types))
                }
                #expect(arrived, "\(receiver.types)")
                return (customer.id, subscribed.id)
            }
        }
        let received = receiver.received
        #expect(received.count >= 3)
        for delivery in received {
            #expect(throws: Never.self) { try StripeSignature.verify(payload: delivery.body, header: delivery.signature, secrets: [Self.secret]) }
        }
        // A wrong secret, an old timestamp, a header without v1: refused; a rotated secret beside the old one: accepted.
        let sample = try #require(received.first)
        #expect(throws: StripeSignature.Failure.mismatch) {
            try StripeSignature.verify(payload: sample.body, header: sample.signature, secrets: ["whsec_other"])
        }
        #expect(throws: StripeSignature.Failure.tooOld) {
            try StripeSignature.verify(payload: sample.body, header: sample.signature, secrets: [Self.secret], now: Date().addingTimeInterval(600))
        }
        #expect(throws: StripeSignature.Failure.malformed) {
            try StripeSignature.verify(payload: sample.body, header: "t=1700000000", secrets: [Self.secret])
        }
        #expect(throws: StripeSignature.Failure.mismatch) {
            try StripeSignature.verify(payload: sample.body + Data("x".utf8), header: sample.signature, secrets: [Self.secret])
        }
        try StripeSignature.verify(payload: sample.body, header: sample.signature, secrets: ["whsec_new", Self.secret])

        // The state survives a restart of the sandbox.
        let restored = try await Self.sandbox(webhookURL: nil, stateFile: stateFile).withRunning { base -> (String?, String) in
            let stripe = StripeClient(baseURL: base, secretKey: "sk_test_sandbox")
            return (try await stripe.customer(kept.customer).email, try await stripe.subscription(kept.subscription).status)
        }
        #expect(restored.0 == "ada@example.com" && restored.1 == "canceled")
    }

    /// A past-due subscription recovered by hand: a new card saved through a setup intent (a
    /// declining one refused, its intent left waiting), made the default, and the open
    /// invoice paid now; the subscription is active again and the events say so.
    @Test func aPastDueSubscriptionIsRecoveredWithASavedCard() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-sandbox-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stateFile) }
        let receiver = StripeWebhookReceiver()
        let (status, paid, types) = try await receiver.run { hook in
            try await Self.sandbox(webhookURL: hook, stateFile: stateFile).withRunning { base -> (String, StripeInvoice, [String]) in
                let stripe = StripeClient(baseURL: base, secretKey: "sk_test_sandbox")
                _ = try await stripe.createProduct(id: "prod_pro", name: "Pro", idempotencyKey: "p")
                let price = try await stripe.createPrice(product: "prod_pro", unitAmount: 2900, currency: "usd", interval: "month",
                                                         lookupKey: "pro_monthly", idempotencyKey: "pr")
                let clock = try await stripe.createTestClock(frozenTime: Self.date("2026-05-31T00:00:00Z"))
                let customer = try await stripe.createCustomer(email: "b@example.com", name: nil, metadata: [:], testClock: clock.id,
                                                               idempotencyKey: "c")
                let failing = try await stripe.saveCard(paymentMethod: "pm_card_chargeCustomerFail", customer: customer.id, idempotencyKey: "s1")
                _ = try await stripe.setDefault(paymentMethod: try #require(failing.paymentMethod), customer: customer.id, idempotencyKey: "d1")
                // The first charge fails: with error_if_incomplete nothing is made; so subscribe
                // on a good card first and let the failing one take over for the renewal.
                let visa = try await stripe.saveCard(paymentMethod: "pm_card_visa", customer: customer.id, idempotencyKey: "s2")
                let sub = try await stripe.createSubscription(customer: customer.id, price: price.id, paymentMethod: visa.paymentMethod,
                                                              metadata: [:], idempotencyKey: "sub")
                _ = try await stripe.detach(paymentMethod: try #require(visa.paymentMethod), idempotencyKey: "x")
                // Renewal on the last day of June (the anchor is May 31): declined, past due.
                _ = try await stripe.advance(testClock: clock.id, to: Self.date("2026-07-01T00:00:00Z"))
                let pastDue = try await stripe.subscription(sub.id)
                #expect(pastDue.status == "past_due")
                #expect(pastDue.item?.currentPeriodStart == Int(Self.date("2026-06-30T00:00:00Z").timeIntervalSince1970))
                let open = try #require(try await stripe.invoices(customer: customer.id, limit: 1).data.first)
                #expect(open.status == "open" && open.nextPaymentAttempt != nil)
                // A declining card is refused and its intent keeps waiting for another.
                let refused = await #expect(throws: StripeError.self) {
                    _ = try await stripe.saveCard(paymentMethod: "pm_card_visa_chargeDeclined", customer: customer.id, idempotencyKey: "s3")
                }
                #expect(refused?.status == 402 && refused?.declineCode == "generic_decline")
                // A good card, saved and used for the open invoice now.
                let mastercard = try await stripe.saveCard(paymentMethod: "pm_card_mastercard", customer: customer.id, idempotencyKey: "s4")
                #expect(mastercard.status == "succeeded")
                let card = try #require(mastercard.paymentMethod)
                _ = try await stripe.setDefault(paymentMethod: card, customer: customer.id, idempotencyKey: "d2")
                let paid = try await stripe.pay(invoice: open.id, paymentMethod: card, idempotencyKey: "pay")
                let recovered = try await stripe.subscription(sub.id).status
                #expect(try await stripe.setupIntent(mastercard.id).status == "succeeded")
                #expect(try await stripe.events(types: ["invoice.paid"]).data.count == 2)
                _ = try await eventually(timeout: .seconds(30)) { receiver.types.contains("setup_intent.setup_failed") }
                return (recovered, paid, receiver.types)
            }
        }
        #expect(status == "active")
        #expect(paid.status == "paid" && paid.amountPaid == 2900 && paid.attemptCount == 2)
        #expect(Set(types).isSuperset(of: ["setup_intent.succeeded", "setup_intent.setup_failed", "invoice.payment_failed", "invoice.paid",
                                          "customer.subscription.updated", "payment_method.detached"]), "\(types)")
    }

    /// Form bodies and query strings are decoded without trusting them: malformed escapes,
    /// stray brackets, empty pairs and control bytes neither trap nor lose the good fields.
    @Test func hostileFormTextDecodesWithoutTrapping() {
        for text in ["%zz", "a=%E0%A4%A", "=&&=", "a[b]=1&a[]=2&a[0]=3", "\u{0}=\u{7f}", "[[[=]]]", "%", "a=b=c", "items[x][price]=p"] {
            _ = StripeForm(text)
            _ = formPairs(text)
        }
        let form = StripeForm("items%5B0%5D%5Bprice%5D=price_1&expand[]=a&expand[1]=b&metadata[k]=v&bad=%zz&name=Ada+L")
        #expect(form.hashes("items").first?["price"] == "price_1")
        #expect(Set(form.list("expand")) == ["a", "b"] && form.hash("metadata") == ["k": "v"])
        #expect(form["bad"] == "%zz" && form["name"] == "Ada L")
    }

    /// Stripe's own Python library (PyPI `stripe`) against the sandbox: a customer, a card,
    /// a price, a subscription, its invoices, a declined card; then its webhook verifier
    /// checks every event the sandbox delivered, and refuses them under another secret.
    @Test func stripesPythonLibraryDrivesTheSandbox() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-sandbox-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stateFile) }
        let receiver = StripeWebhookReceiver()
        let output = try await receiver.run { hook in
            try await Self.sandbox(webhookURL: hook, stateFile: stateFile).withRunning { base -> Data in
                let output = try await ProcessRunner().run("python3", ["-c", """
                    import sys, stripe
                    stripe.api_key = "sk_test_sandbox"
                    stripe.api_base = sys.argv[1]
                    customer = stripe.Customer.create(email="py@example.com", name="Py")
                    pm = stripe.PaymentMethod.attach("pm_card_visa", customer=customer.id)
                    stripe.Customer.modify(customer.id, invoice_settings={"default_payment_method": pm.id})
                    price = stripe.Price.create(unit_amount=1999, currency="usd", recurring={"interval": "month"},
                                                product_data={"name": "Py plan"}, lookup_key="py_monthly")
                    sub = stripe.Subscription.create(customer=customer.id, items=[{"price": price.id}])
                    invoices = stripe.Invoice.list(customer=customer.id, limit=5)
                    try:
                        stripe.PaymentMethod.attach("pm_card_visa_chargeDeclined", customer=customer.id)
                        print("declined card accepted")
                        sys.exit(1)
                    except stripe.error.CardError as e:
                        decline = e.code
                    print(sub.status, pm.card.last4, len(invoices.data), invoices.data[0].amount_paid, decline)
                    """, base])
                _ = try await eventually(timeout: .seconds(30)) { receiver.types.contains("invoice.paid") }
                return output
            }
        }
        #expect(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == "active 4242 1 1999 card_declined")
        let delivered = receiver.received
        #expect(Set(receiver.types).isSuperset(of: ["customer.created", "payment_method.attached", "customer.subscription.created",
                                                    "invoice.paid"]), "\(receiver.types)")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stripe-events-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let lines = try delivered.map { delivery in
            String(decoding: try JSONSerialization.data(withJSONObject: ["payload": String(decoding: delivery.body, as: UTF8.self),
                                                                        "signature": delivery.signature]), as: UTF8.self)
        }
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let verified = try await ProcessRunner().run("python3", ["-c", """
            import json, sys, stripe
            checked = 0
            for line in open(sys.argv[1]):
                delivery = json.loads(line)
                event = stripe.Webhook.construct_event(delivery["payload"], delivery["signature"], sys.argv[2])
                assert event.id.startswith("evt_") and event.object == "event"
                try:
                    stripe.Webhook.construct_event(delivery["payload"], delivery["signature"], "whsec_wrong")
                    sys.exit("accepted under the wrong secret")
                except stripe.error.SignatureVerificationError:
                    pass
                checked += 1
            print(checked)
            """, file.path, Self.secret])
        #expect(Int(String(decoding: verified, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) == delivered.count)
        #expect(delivered.count >= 4)
    }
}
