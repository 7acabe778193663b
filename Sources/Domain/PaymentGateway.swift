import Foundation

/// A saved card as the payment provider describes it: never its number.
public struct PaymentCard: Sendable, Equatable {
    public var id: String
    public var brand: String
    public var last4: String
    public var expMonth: Int
    public var expYear: Int

    public init(id: String, brand: String, last4: String, expMonth: Int, expYear: Int) {
        self.id = id
        self.brand = brand
        self.last4 = last4
        self.expMonth = expMonth
        self.expYear = expYear
    }
}

/// A plan's monthly price at the provider.
public struct PlanPrice: Sendable, Equatable {
    public var id: String
    public var tier: String
    public var amountCents: Int
    /// ISO 4217, lower case as Stripe writes it (`usd`).
    public var currency: String

    public init(id: String, tier: String, amountCents: Int, currency: String) {
        self.id = id
        self.tier = tier
        self.amountCents = amountCents
        self.currency = currency
    }
}

/// A subscription as the provider holds it.
public struct ProviderSubscription: Sendable {
    public var facts: SubscriptionFacts
    public var customerID: String
    /// The subscription's one item, whose price is the plan.
    public var itemID: String
    public var price: PlanPrice
    public var defaultPaymentMethod: String?

    public init(facts: SubscriptionFacts, customerID: String, itemID: String, price: PlanPrice, defaultPaymentMethod: String?) {
        self.facts = facts
        self.customerID = customerID
        self.itemID = itemID
        self.price = price
        self.defaultPaymentMethod = defaultPaymentMethod
    }
}

/// An invoice as the provider issued it; amounts in the currency's minor unit.
public struct BillingInvoice: Sendable {
    public struct Line: Sendable {
        public var description: String?
        public var amountCents: Int
        public var proration: Bool
        public var periodStart: Date
        public var periodEnd: Date

        public init(description: String?, amountCents: Int, proration: Bool, periodStart: Date, periodEnd: Date) {
            self.description = description
            self.amountCents = amountCents
            self.proration = proration
            self.periodStart = periodStart
            self.periodEnd = periodEnd
        }
    }

    public var id: String
    public var number: String?
    /// `draft`, `open`, `paid`, `uncollectible` or `void`.
    public var status: String
    public var currency: String
    public var totalCents: Int
    public var amountDueCents: Int
    public var amountPaidCents: Int
    public var attemptCount: Int
    public var created: Date
    public var periodStart: Date
    public var periodEnd: Date
    public var hostedURL: String?
    public var pdfURL: String?
    public var lines: [Line]

    public init(id: String, number: String?, status: String, currency: String, totalCents: Int, amountDueCents: Int, amountPaidCents: Int,
                attemptCount: Int, created: Date, periodStart: Date, periodEnd: Date, hostedURL: String?, pdfURL: String?, lines: [Line]) {
        self.id = id
        self.number = number
        self.status = status
        self.currency = currency
        self.totalCents = totalCents
        self.amountDueCents = amountDueCents
        self.amountPaidCents = amountPaidCents
        self.attemptCount = attemptCount
        self.created = created
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.hostedURL = hostedURL
        self.pdfURL = pdfURL
        self.lines = lines
    }
}

/// What the payment provider refused, in our terms.
public enum PaymentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The card was declined; `reason` is the provider's decline code (`insufficient_funds`).
    case declined(message: String, reason: String?)
    /// The request named something the provider does not have or does not allow (an unknown
    /// payment method id, say).
    case rejected(message: String, field: String?)
    /// The provider could not be reached or failed; nothing is known to have changed.
    case unavailable(String)

    public var description: String {
        switch self {
        case let .declined(message, reason): "declined (\(reason ?? "no reason")): \(message)"
        case let .rejected(message, field): "rejected\(field.map { " (\($0))" } ?? ""): \(message)"
        case let .unavailable(message): "unavailable: \(message)"
        }
    }
}

/// The payment provider (Stripe, or its sandbox) as the product uses it. Every call that
/// changes something takes an idempotency key derived from our own rows, so a retried call
/// never charges twice. Failures are `PaymentError`.
public protocol PaymentGateway: Sendable {
    /// Makes the user's customer.
    func createCustomer(userID: String, email: String, name: String, idempotencyKey: String) async throws -> String
    /// Saves a card made by the browser (`pm_…`) to the customer for later charges, verified
    /// by the card's bank; a declined card is not kept.
    func saveCard(_ paymentMethodID: String, customer: String, makeDefault: Bool, idempotencyKey: String) async throws -> PaymentCard
    /// The customer's cards and the id of the default one.
    func cards(customer: String) async throws -> (cards: [PaymentCard], defaultID: String?)
    /// The plans' monthly prices, made once from `plans` (tier → amount in cents) and found
    /// again by lookup key afterwards.
    func prices(plans: [String: Int], currency: String) async throws -> [String: PlanPrice]
    /// Subscribes the customer and charges the first invoice now to the customer's default
    /// card (which renewals charge too, so a new default card is what the next renewal
    /// charges); a declined card creates nothing.
    func subscribe(customer: String, price: String, idempotencyKey: String) async throws -> ProviderSubscription
    func subscription(_ id: String) async throws -> ProviderSubscription
    /// Moves the subscription to another price: prorated and charged now (`prorateNow`), or
    /// not prorated (the new price applies from the next renewal). `hold` records a waiting
    /// downgrade in the subscription (the tier paid for, until when); nil clears it.
    func changePrice(of subscription: ProviderSubscription, to price: String, prorateNow: Bool, hold: (tier: String, until: Date)?,
                     idempotencyKey: String) async throws -> ProviderSubscription
    /// The customer's subscriptions that have not ended, newest first.
    func liveSubscriptions(customer: String) async throws -> [ProviderSubscription]
    func setCancelAtPeriodEnd(subscription: String, _ cancel: Bool, idempotencyKey: String) async throws -> ProviderSubscription
    func cancelNow(subscription: String) async throws -> ProviderSubscription
    /// Pays the customer's open subscription invoices now with its default card (after a
    /// failed renewal, once a new card was saved).
    /// - Returns: how many were paid; a declined one stays open for the provider's next retry.
    func payOpenInvoices(customer: String, idempotencyKey: String) async throws -> Int
    /// A page of the customer's invoices, newest first.
    func invoices(customer: String, limit: Int, startingAfter: String?) async throws -> (invoices: [BillingInvoice], hasMore: Bool)
}
