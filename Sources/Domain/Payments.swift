import Crypto
import Foundation
import Logging
import PostgresNIO
import Queue

/// What a payment setup needs besides its provider.
public struct PaymentSettings: Sendable {
    /// The currency plans are priced in (ISO 4217, lower case).
    public var currency = "usd"
    /// How long a past-due account may still submit videos (`YTEMPIRE_PAYMENT_GRACE`).
    public var grace: Duration = .seconds(7 * 86_400)

    public init() {}
}

/// An account's subscription as the product shows it.
public struct SubscriptionOverview: Sendable {
    public struct Usage: Sendable {
        public var videosThisMonth: Int
        public var channels: Int
        public var youtubeAccounts: Int
    }

    /// The plan in force (its limits): `free` without a live subscription.
    public var plan: PlanLimits
    /// `active`, `trialing`, `past_due`, `canceled` or `none`.
    public var status: String
    public var pendingTier: String?
    public var price: PlanPrice?
    public var periodStart: Date?
    public var periodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var pastDueSince: Date?
    public var paymentMethod: PaymentCard?
    public var usage: Usage
}

/// A plan's limits, from `subscription_tiers`.
public struct PlanLimits: Sendable, Equatable {
    public var tier: String
    public var videosPerMonth: Int
    public var channels: Int
    public var youtubeAccounts: Int
    public var priceCents: Int
}

/// Payments and subscriptions: the user's customer, cards, the plan's subscription and its
/// changes, on the payment provider; the plan itself follows the subscription's facts
/// (`BillingStore.apply`). Every change of one account runs under its billing lock, so two
/// requests of the same user cannot subscribe twice.
public struct Payments: Sendable {
    public let client: PostgresClient
    public let gateway: any PaymentGateway
    public let settings: PaymentSettings
    public let store: BillingStore
    let catalog: PlanCatalog
    let logger: Logger

    public init(client: PostgresClient, gateway: any PaymentGateway, settings: PaymentSettings = PaymentSettings(), logger: Logger) {
        self.client = client
        self.gateway = gateway
        self.settings = settings
        self.store = BillingStore(client: client, logger: logger)
        self.catalog = PlanCatalog()
        self.logger = logger
    }

    // MARK: Reading

    /// The user's subscription, plan, default card and this period's usage.
    public func overview(userID: String) async throws -> SubscriptionOverview {
        let account = try await store.account(userID: userID, on: client)
        let plan = try await limits(ofUserID: userID)
        let usage = try await usage(userID: userID, on: client)
        var card: PaymentCard?
        var price: PlanPrice?
        if let account {
            let (cards, defaultID) = try await gateway.cards(customer: account.customerID)
            card = cards.first { $0.id == defaultID }
            if let tier = account.tier, account.isSubscribed { price = try await prices()[tier] }
        }
        let status = account.map { ["active", "trialing", "past_due", "canceled"].contains($0.status) ? $0.status : "none" } ?? "none"
        let live = account?.isSubscribed ?? false
        return SubscriptionOverview(
            plan: plan, status: status, pendingTier: live ? account?.pendingTier : nil, price: price,
            periodStart: live ? account?.periodStart : nil, periodEnd: live ? account?.periodEnd : nil,
            cancelAtPeriodEnd: live && account?.cancelAtPeriodEnd == true, pastDueSince: live ? account?.pastDueSince : nil,
            paymentMethod: card, usage: usage)
    }

    /// The user's cards and the default one's id; none before a customer exists.
    public func cards(userID: String) async throws -> (cards: [PaymentCard], defaultID: String?) {
        guard let customer = try await store.customerID(userID: userID) else { return ([], nil) }
        return try await gateway.cards(customer: customer)
    }

    /// A page of the user's invoices, newest first.
    public func invoices(userID: String, limit: Int, startingAfter: String?) async throws -> (invoices: [BillingInvoice], hasMore: Bool) {
        guard let customer = try await store.customerID(userID: userID) else { return ([], false) }
        return try await gateway.invoices(customer: customer, limit: limit, startingAfter: startingAfter)
    }

    /// The limits of the user's plan now.
    public func limits(ofUserID userID: String) async throws -> PlanLimits {
        let rows = try await client.query("""
            SELECT t.name, t.videos_per_month, t.channels, t.youtube_accounts, t.price_cents
              FROM users u JOIN subscription_tiers t ON t.name = u.subscription_tier WHERE u.id = \(userID)
            """, logger: logger)
        for try await (tier, videos, channels, accounts, price) in rows.decode((String, Int32, Int32, Int32, Int32).self) {
            return PlanLimits(tier: tier, videosPerMonth: Int(videos), channels: Int(channels), youtubeAccounts: Int(accounts), priceCents: Int(price))
        }
        throw DomainError(.notFound, "The account no longer exists")
    }

    /// Every plan's limits, cheapest first.
    public func plans() async throws -> [PlanLimits] {
        let rows = try await client.query("""
            SELECT name, videos_per_month, channels, youtube_accounts, price_cents FROM subscription_tiers ORDER BY price_cents, name
            """, logger: logger)
        var plans: [PlanLimits] = []
        for try await (tier, videos, channels, accounts, price) in rows.decode((String, Int32, Int32, Int32, Int32).self) {
            plans.append(PlanLimits(tier: tier, videosPerMonth: Int(videos), channels: Int(channels), youtubeAccounts: Int(accounts),
                                    priceCents: Int(price)))
        }
        return plans
    }

    func usage(userID: String, on executor: any PostgresExecutor) async throws -> SubscriptionOverview.Usage {
        let rows = try await executor.run("""
            SELECT (SELECT count(*) FROM videos WHERE user_id = \(userID) AND kind = 'video' AND created_at >= date_trunc('month', now())),
                   (SELECT count(*) FROM channels WHERE user_id = \(userID)),
                   (SELECT count(*) FROM youtube_accounts WHERE user_id = \(userID))
            """, logger: logger)
        for try await (videos, channels, accounts) in rows.decode((Int64, Int64, Int64).self) {
            return .init(videosThisMonth: Int(videos), channels: Int(channels), youtubeAccounts: Int(accounts))
        }
        return .init(videosThisMonth: 0, channels: 0, youtubeAccounts: 0)
    }

    /// The paid plans' prices at the provider, made once and then remembered.
    func prices() async throws -> [String: PlanPrice] {
        if let known = await catalog.prices { return known }
        let paid = try await plans().filter { $0.priceCents > 0 }
        let prices = try await gateway.prices(plans: Dictionary(uniqueKeysWithValues: paid.map { ($0.tier, $0.priceCents) }),
                                              currency: settings.currency)
        await catalog.remember(prices)
        return prices
    }

    // MARK: Changing

    /// Saves a card made by the browser (`pm_…`) as the user's default, charged from the next
    /// renewal on; an account past due is charged with it at once, and recovers when that
    /// payment's event arrives.
    public func addCard(user: User, paymentMethodID: String) async throws -> PaymentCard {
        try Self.checkPaymentMethodID(paymentMethodID)
        let customer = try await customer(for: user)
        let key = try await store.nextRequestKey(userID: user.id, "card", on: client)
        let card = try await gateway.saveCard(paymentMethodID, customer: customer, makeDefault: true, idempotencyKey: key)
        if try await store.account(userID: user.id, on: client)?.status == "past_due" {
            let payKey = try await store.nextRequestKey(userID: user.id, "pay", on: client)
            let paid = try await gateway.payOpenInvoices(customer: customer, idempotencyKey: payKey)
            logger.info("past-due invoices paid with a new card", metadata: ["user": "\(user.id)", "paid": "\(paid)"])
        }
        return card
    }

    /// Subscribes the user to a paid plan with a card made by the browser; the plan's limits
    /// apply as soon as the first invoice is paid, which is before this returns.
    /// - Throws: `conflict` when a subscription is live (change it with `change`; one that an
    ///   earlier, interrupted request made at Stripe is taken up first), `invalid` for an
    ///   unknown or free plan, `PaymentError.declined` when the card was declined (nothing
    ///   changes).
    public func subscribe(user: User, tier: String, paymentMethodID: String) async throws -> SubscriptionOverview {
        try Self.checkPaymentMethodID(paymentMethodID)
        let price = try await paidPrice(tier)
        let customer = try await customer(for: user)
        try await withBillingLock(userID: user.id, wait: false) { connection in
            if let account = try await store.account(userID: user.id, on: connection), account.isSubscribed {
                throw DomainError(.conflict, "You already have the \(account.tier ?? "current") plan; change it with PUT /payment/subscription")
            }
            if let live = try await gateway.liveSubscriptions(customer: customer).first {
                try await apply(live, on: connection)
                throw DomainError(.conflict, "You already have the \(live.facts.paidTier) plan; change it with PUT /payment/subscription")
            }
            let cardKey = try await store.nextRequestKey(userID: user.id, "card", on: connection)
            _ = try await gateway.saveCard(paymentMethodID, customer: customer, makeDefault: true, idempotencyKey: cardKey)
            let key = try await store.nextRequestKey(userID: user.id, "subscribe", on: connection)
            let subscription = try await gateway.subscribe(customer: customer, price: price.id, idempotencyKey: key)
            try await apply(subscription, on: connection)
        }
        return try await overview(userID: user.id)
    }

    /// Changes the plan: an upgrade now, its proration invoiced and charged at once; a
    /// downgrade at the period's end (Stripe's price moves now without proration, and the
    /// subscription holds the tier paid for until then), refused with `conflict` while the
    /// account uses more than the lower plan allows; the plan paid for again takes back a
    /// waiting downgrade, and any change takes back a waiting cancellation. Decided on the
    /// subscription as Stripe holds it now, not on what the account last heard.
    public func change(user: User, tier: String) async throws -> SubscriptionOverview {
        let price = try await paidPrice(tier)
        let prices = try await prices()
        let plans = Dictionary(uniqueKeysWithValues: try await plans().map { ($0.tier, $0) })
        try await withBillingLock(userID: user.id, wait: false) { connection in
            guard let account = try await store.account(userID: user.id, on: connection), account.isSubscribed,
                  let subscriptionID = account.subscriptionID
            else { throw DomainError(.invalidState, "You have no subscription; subscribe with POST /payment/subscribe") }
            var subscription = try await gateway.subscription(subscriptionID)
            try await apply(subscription, on: connection)
            if subscription.facts.cancelAtPeriodEnd {
                let key = try await store.nextRequestKey(userID: user.id, "resume", on: connection)
                subscription = try await gateway.setCancelAtPeriodEnd(subscription: subscriptionID, false, idempotencyKey: key)
            }
            let paid = subscription.facts.paidTier
            let rank = { (name: String) in plans[name]?.priceCents ?? 0 }
            if rank(tier) >= rank(paid), subscription.facts.tier != paid, let paidPrice = prices[paid] {
                // A waiting downgrade taken back first: the price paid for, so that an upgrade
                // is prorated from what was paid, not from the lower price.
                let key = try await store.nextRequestKey(userID: user.id, "keep", on: connection)
                subscription = try await gateway.changePrice(of: subscription, to: paidPrice.id, prorateNow: false, hold: nil, idempotencyKey: key)
            }
            if rank(tier) > rank(paid) {
                let key = try await store.nextRequestKey(userID: user.id, "upgrade", on: connection)
                subscription = try await gateway.changePrice(of: subscription, to: price.id, prorateNow: true, hold: nil, idempotencyKey: key)
            } else if rank(tier) < rank(paid) {
                try await checkFits(userID: user.id, plan: plans[tier], on: connection)
                let until = subscription.facts.periodEnd ?? Date()
                let key = try await store.nextRequestKey(userID: user.id, "downgrade", on: connection)
                subscription = try await gateway.changePrice(of: subscription, to: price.id, prorateNow: false, hold: (paid, until),
                                                             idempotencyKey: key)
            }
            try await apply(subscription, on: connection)
        }
        return try await overview(userID: user.id)
    }

    /// Cancels the subscription at the period's end, or now; the account falls back to
    /// `free` when it ends. Nothing is deleted; running videos finish.
    public func cancel(user: User, immediately: Bool) async throws -> SubscriptionOverview {
        try await withBillingLock(userID: user.id, wait: false) { connection in
            guard let account = try await store.account(userID: user.id, on: connection), account.isSubscribed,
                  let subscriptionID = account.subscriptionID
            else { throw DomainError(.invalidState, "You have no subscription to cancel") }
            let subscription: ProviderSubscription
            if immediately {
                subscription = try await gateway.cancelNow(subscription: subscriptionID)
            } else {
                let key = try await store.nextRequestKey(userID: user.id, "cancel", on: connection)
                subscription = try await gateway.setCancelAtPeriodEnd(subscription: subscriptionID, true, idempotencyKey: key)
            }
            try await apply(subscription, on: connection)
        }
        return try await overview(userID: user.id)
    }

    /// Applies the subscription as the provider holds it now. One whose price is not one of
    /// our plans, or whose status this version does not know, is not ours to apply: it is
    /// logged and left alone.
    func apply(_ subscription: ProviderSubscription, asOf: Int? = nil, on connection: PostgresConnection) async throws {
        let facts = subscription.facts
        let known = try await plans().map(\.tier)
        guard known.contains(facts.tier), known.contains(facts.paidTier), SubscriptionFacts.statuses.contains(facts.status) else {
            logger.warning("a subscription that is not one of our plans was left alone",
                           metadata: ["subscription": "\(facts.stripeSubscriptionID)", "tier": "\(facts.tier)", "status": "\(facts.status)"])
            return
        }
        let outcome = try await store.apply(facts, customerID: subscription.customerID, asOf: asOf, on: connection)
        guard case let .applied(plan, changed) = outcome, changed else { return }
        let userRows = try await connection.query("SELECT user_id FROM billing_accounts WHERE stripe_customer_id = \(subscription.customerID)",
                                                  logger: logger)
        for try await userID in userRows.decode(String.self) {
            var data: [String: any Sendable] = ["tier": plan, "status": facts.status, "cancel_at_period_end": facts.cancelAtPeriodEnd]
            if let pending = facts.pendingTier, facts.grantsPlan { data["pending_tier"] = pending }
            if let end = facts.periodEnd { data["current_period_end"] = ISO8601DateFormatter().string(from: end) }
            try await DomainEvents.record(type: "subscription.updated", userID: userID, data: DomainEvents.json(data), on: connection, logger: logger)
        }
    }

    /// The user's customer, made on first use; one for life. The idempotency key names the
    /// details sent, so a retry after they changed is a new request, not a refused one.
    func customer(for user: User) async throws -> String {
        if let known = try await store.customerID(userID: user.id) { return known }
        let digest = SHA256.hash(data: Data("\(user.email)\u{0}\(user.fullName)".utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        let made = try await gateway.createCustomer(userID: user.id, email: user.email, name: user.fullName,
                                                    idempotencyKey: "customer-\(user.id)-\(digest)")
        return try await store.link(userID: user.id, stripeCustomerID: made)
    }

    /// The price of a paid plan.
    func paidPrice(_ tier: String) async throws -> PlanPrice {
        guard let price = try await prices()[tier] else {
            let names = try await plans().filter { $0.priceCents > 0 }.map(\.tier).joined(separator: ", ")
            throw DomainError(.invalid, "tier must be one of the paid plans: \(names)", field: "tier")
        }
        return price
    }

    /// Refuses a downgrade below what the account uses, naming what to remove first. (Counted
    /// without locking the user's row: the lock would be held across the call to Stripe and
    /// stall the user's other requests; a channel added meanwhile only makes the account
    /// over its next plan, which refuses further ones.)
    func checkFits(userID: String, plan: PlanLimits?, on connection: PostgresConnection) async throws {
        guard let plan else { throw DomainError(.invalid, "Unknown plan", field: "tier") }
        let usage = try await usage(userID: userID, on: connection)
        var excess: [String] = []
        if usage.channels > plan.channels { excess.append("\(usage.channels - plan.channels) of your \(usage.channels) channels") }
        if usage.youtubeAccounts > plan.youtubeAccounts {
            excess.append("\(usage.youtubeAccounts - plan.youtubeAccounts) of your \(usage.youtubeAccounts) YouTube accounts")
        }
        guard excess.isEmpty else {
            throw DomainError(.conflict, "The \(plan.tier) plan allows \(plan.channels) channels and \(plan.youtubeAccounts) YouTube accounts; "
                              + "remove \(excess.joined(separator: " and ")) first")
        }
    }

    /// Runs `body` in a transaction holding the user's billing lock. A request does not wait
    /// for another change of the same account (`wait: false`: 409 at once, so one account's
    /// requests cannot pile up holding connections); a Stripe event's job waits its turn.
    func withBillingLock(userID: String, wait: Bool, _ body: @Sendable (PostgresConnection) async throws -> Void) async throws {
        do {
            try await client.withTransaction(logger: logger) { connection in
                if wait {
                    try await AdvisoryLock.billing.lock(userID, on: connection, logger: logger)
                } else if !(try await AdvisoryLock.billing.tryLock(userID, on: connection, logger: logger)) {
                    throw DomainError(.conflict, "Another change of your subscription is in progress; try again in a moment")
                }
                try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError { throw inner }
            throw error
        }
    }

    /// A payment method id as Stripe.js makes it; anything else (a card number above all) is
    /// refused without being echoed.
    static func checkPaymentMethodID(_ id: String) throws {
        let digits = id.filter(\.isNumber).count
        guard digits < 12 else {
            throw DomainError(.invalid, "Card numbers are never accepted: create a payment method with Stripe.js and send its id (pm_…)",
                              field: "payment_method_id")
        }
        guard isProviderID(id, prefix: "pm_") else {
            throw DomainError(.invalid, "payment_method_id must be a payment method id made by Stripe.js (pm_…)", field: "payment_method_id")
        }
    }

    /// Whether `id` is shaped like a Stripe id of one kind: its prefix (`pm_`, `in_`), then
    /// ASCII letters, digits and underscores, 255 bytes at most.
    public static func isProviderID(_ id: String, prefix: String) -> Bool {
        id.hasPrefix(prefix) && id.utf8.count > prefix.utf8.count && id.utf8.count <= 255
            && id.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) }
    }
}

/// The plans' prices at the provider, remembered once found.
actor PlanCatalog {
    var prices: [String: PlanPrice]?

    func remember(_ prices: [String: PlanPrice]) { self.prices = prices }
}
