import Domain
import Foundation

/// The product's payment provider on Stripe's API (or the Stripe sandbox): the client's
/// calls in the product's terms, Stripe's errors mapped to `PaymentError`.
public struct StripeGateway: PaymentGateway {
    public let stripe: StripeClient
    /// Test mode only: each new customer gets a test clock of its own, so its subscription's
    /// time can be advanced (renewals, dunning) without waiting.
    public let testClocks: Bool

    public init(stripe: StripeClient, testClocks: Bool = false) {
        self.stripe = stripe
        self.testClocks = testClocks
    }

    public func createCustomer(userID: String, email: String, name: String, idempotencyKey: String) async throws -> String {
        try await mapped {
            var clock: String?
            if testClocks {
                // Started on the hour, so that a retry within it sends the same request.
                let hour = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600)
                clock = try await stripe.createTestClock(frozenTime: hour, name: userID, idempotencyKey: "\(idempotencyKey)-clock").id
            }
            return try await stripe.createCustomer(email: email, name: name, metadata: ["user_id": userID], testClock: clock,
                                                   idempotencyKey: idempotencyKey).id
        }
    }

    public func saveCard(_ paymentMethodID: String, customer: String, makeDefault: Bool, idempotencyKey: String) async throws -> PaymentCard {
        try await mapped {
            let intent = try await stripe.saveCard(paymentMethod: paymentMethodID, customer: customer, idempotencyKey: idempotencyKey)
            let methodID = intent.paymentMethod ?? paymentMethodID
            if makeDefault {
                _ = try await stripe.setDefault(paymentMethod: methodID, customer: customer, idempotencyKey: "\(idempotencyKey)-default")
            }
            guard let card = try await stripe.paymentMethods(customer: customer).first(where: { $0.id == methodID })?.paymentCard else {
                throw PaymentError.rejected(message: "The payment method \(paymentMethodID) is not a card", field: "payment_method_id")
            }
            return card
        }
    }

    public func cards(customer: String) async throws -> (cards: [PaymentCard], defaultID: String?) {
        try await mapped {
            async let methods = stripe.paymentMethods(customer: customer)
            async let owner = stripe.customer(customer)
            return (try await methods.compactMap(\.paymentCard), try await owner.invoiceSettings?.defaultPaymentMethod)
        }
    }

    public func prices(plans: [String: Int], currency: String) async throws -> [String: PlanPrice] {
        try await mapped {
            let keys = plans.keys.sorted().map(Self.lookupKey)
            var found: [String: PlanPrice] = [:]
            for price in try await stripe.prices(lookupKeys: keys) {
                guard let tier = SubscriptionFacts.tier(lookupKey: price.lookupKey), plans[tier] == price.unitAmount,
                      price.currency == currency else { continue }
                found[tier] = PlanPrice(id: price.id, tier: tier, amountCents: price.unitAmount ?? 0, currency: price.currency)
            }
            for (tier, amount) in plans.sorted(by: { $0.key < $1.key }) where found[tier] == nil {
                // A plan's price is immutable at Stripe: a new amount is a new price that takes
                // the lookup key over (`transfer_lookup_key`); the keys name tier and amount.
                let product = "prod_ytempire_\(tier)"
                _ = try? await stripe.createProduct(id: product, name: "YTEmpire \(tier.capitalized)", idempotencyKey: "product-\(tier)")
                let price = try await stripe.createPrice(product: product, unitAmount: amount, currency: currency, interval: "month",
                                                         lookupKey: Self.lookupKey(tier), idempotencyKey: "price-\(tier)-\(amount)-\(currency)")
                found[tier] = PlanPrice(id: price.id, tier: tier, amountCents: amount, currency: currency)
            }
            return found
        }
    }

    public func subscribe(customer: String, price: String, idempotencyKey: String) async throws -> ProviderSubscription {
        try await mapped {
            try Self.subscription(try await stripe.createSubscription(customer: customer, price: price, paymentMethod: nil,
                                                                      metadata: [:], idempotencyKey: idempotencyKey))
        }
    }

    public func payOpenInvoices(customer: String, idempotencyKey: String) async throws -> Int {
        try await mapped {
            var paid = 0
            for invoice in try await stripe.invoices(customer: customer, limit: 10).data
            where invoice.status == "open" && invoice.subscription != nil && invoice.amountDue > 0 {
                do {
                    _ = try await stripe.pay(invoice: invoice.id, paymentMethod: nil, idempotencyKey: "\(idempotencyKey)-\(invoice.id)")
                    paid += 1
                } catch let error as StripeError where error.isCardError {
                    continue
                }
            }
            return paid
        }
    }

    public func subscription(_ id: String) async throws -> ProviderSubscription {
        try await mapped { try Self.subscription(try await stripe.subscription(id)) }
    }

    public func changePrice(of subscription: ProviderSubscription, to price: String, prorateNow: Bool, hold: (tier: String, until: Date)?,
                            idempotencyKey: String) async throws -> ProviderSubscription {
        try await mapped {
            // An empty value removes a metadata key at Stripe.
            let metadata = [SubscriptionFacts.heldTierKey: hold?.tier ?? "",
                            SubscriptionFacts.heldUntilKey: hold.map { String(Int($0.until.timeIntervalSince1970)) } ?? ""]
            return try Self.subscription(try await stripe.changePrice(
                subscription: subscription.facts.stripeSubscriptionID, item: subscription.itemID, price: price,
                proration: prorateNow ? .alwaysInvoice : StripeClient.Proration.none, metadata: metadata, idempotencyKey: idempotencyKey))
        }
    }

    public func liveSubscriptions(customer: String) async throws -> [ProviderSubscription] {
        try await mapped {
            try await stripe.subscriptions(customer: customer).filter { !BillingAccount.endedStatuses.contains($0.status) }
                .compactMap { try? Self.subscription($0) }
        }
    }

    public func setCancelAtPeriodEnd(subscription: String, _ cancel: Bool, idempotencyKey: String) async throws -> ProviderSubscription {
        try await mapped { try Self.subscription(try await stripe.setCancelAtPeriodEnd(subscription: subscription, cancel, idempotencyKey: idempotencyKey)) }
    }

    public func cancelNow(subscription: String) async throws -> ProviderSubscription {
        try await mapped { try Self.subscription(try await stripe.cancel(subscription: subscription)) }
    }

    public func invoices(customer: String, limit: Int, startingAfter: String?) async throws -> (invoices: [BillingInvoice], hasMore: Bool) {
        try await mapped {
            let page = try await stripe.invoices(customer: customer, limit: limit, startingAfter: startingAfter)
            return (page.data.map(\.billingInvoice), page.hasMore)
        }
    }

    /// `<tier>_monthly`.
    static func lookupKey(_ tier: String) -> String { "\(tier)_monthly" }

    static func subscription(_ subscription: StripeSubscription) throws -> ProviderSubscription {
        guard let item = subscription.item, let facts = subscription.facts else {
            throw PaymentError.unavailable("Stripe's subscription \(subscription.id) has no price of a YTEmpire plan")
        }
        let tier = facts.tier
        return ProviderSubscription(facts: facts, customerID: subscription.customer, itemID: item.id,
                                    price: PlanPrice(id: item.price.id, tier: tier, amountCents: item.price.unitAmount ?? 0,
                                                     currency: item.price.currency),
                                    defaultPaymentMethod: subscription.defaultPaymentMethod)
    }

    /// Runs Stripe calls, their errors as `PaymentError`.
    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StripeError {
            if error.isCardError { throw PaymentError.declined(message: error.message, reason: error.declineCode ?? error.code) }
            if error.type == "invalid_request_error" && (400..<500).contains(error.status) && error.status != 429 {
                throw PaymentError.rejected(message: error.message, field: error.param)
            }
            throw PaymentError.unavailable(error.description)
        } catch let error as PaymentError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw PaymentError.unavailable("Stripe could not be reached: \(error)")
        }
    }
}

extension StripePaymentMethod {
    var paymentCard: PaymentCard? {
        card.map { PaymentCard(id: id, brand: $0.brand, last4: $0.last4, expMonth: $0.expMonth, expYear: $0.expYear) }
    }
}

extension StripeInvoice {
    var billingInvoice: BillingInvoice {
        func date(_ seconds: Int) -> Date { Date(timeIntervalSince1970: TimeInterval(seconds)) }
        return BillingInvoice(
            id: id, number: number, status: status ?? "draft", currency: currency, totalCents: total, amountDueCents: amountDue,
            amountPaidCents: amountPaid, attemptCount: attemptCount, created: date(created), periodStart: date(periodStart),
            periodEnd: date(periodEnd), hostedURL: hostedInvoiceUrl, pdfURL: invoicePdf,
            lines: lines.data.map { line in
                BillingInvoice.Line(description: line.description, amountCents: line.amount, proration: line.isProration,
                                    periodStart: date(line.period.start), periodEnd: date(line.period.end))
            })
    }
}
