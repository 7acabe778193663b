import Foundation
import Logging
import PostgresNIO
import Queue

/// A subscription as Stripe states it, in our terms: the plan comes from the price (its lookup
/// key `<tier>_monthly`, or its product `prod_ytempire_<tier>`). A downgrade is asked of Stripe
/// at once, without proration, with the tier paid for and the end of its period in the
/// subscription's metadata (`heldTier`, `heldUntil`): until a period starting then, the plan
/// in force is the held one. So everything that decides the plan is in Stripe's own facts.
public struct SubscriptionFacts: Sendable, Equatable {
    public var stripeSubscriptionID: String
    /// Stripe's status: `incomplete`, `incomplete_expired`, `trialing`, `active`, `past_due`,
    /// `unpaid`, `canceled`, `paused`.
    public var status: String
    /// The tier of the subscription's price: what the next renewal charges.
    public var tier: String
    public var periodStart: Date?
    public var periodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    /// The tier paid for while a downgrade waits, and when the wait ends.
    public var heldTier: String?
    public var heldUntil: Date?

    public init(stripeSubscriptionID: String, status: String, tier: String, periodStart: Date?, periodEnd: Date?, cancelAtPeriodEnd: Bool,
                heldTier: String? = nil, heldUntil: Date? = nil) {
        self.stripeSubscriptionID = stripeSubscriptionID
        self.status = status
        self.tier = tier
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.heldTier = heldTier
        self.heldUntil = heldUntil
    }

    /// The metadata keys of a waiting downgrade.
    public static let heldTierKey = "ytempire_held_tier"
    public static let heldUntilKey = "ytempire_held_until"

    /// The tier a price's lookup key names (`professional_monthly` → `professional`).
    public static func tier(lookupKey: String?) -> String? {
        guard let key = lookupKey, key.hasSuffix("_monthly"), key.count > "_monthly".count else { return nil }
        return String(key.dropLast("_monthly".count))
    }

    /// The tier a product of ours names (`prod_ytempire_professional` → `professional`).
    public static func tier(product: String?) -> String? {
        guard let product, product.hasPrefix("prod_ytempire_"), product.count > "prod_ytempire_".count else { return nil }
        return String(product.dropFirst("prod_ytempire_".count))
    }

    /// Whether a downgrade is waiting: the period it was asked in has not ended.
    var isHolding: Bool {
        guard let heldTier, !heldTier.isEmpty, let heldUntil else { return false }
        return (periodStart ?? .distantPast) < heldUntil
    }

    /// The tier paid for this period: the plan while the subscription grants one.
    public var paidTier: String { isHolding ? heldTier ?? tier : tier }

    /// The tier the next period will have, when lower than the one paid for.
    public var pendingTier: String? { isHolding && paidTier != tier ? tier : nil }

    /// Whether the account has the plan's limits in this state: while paid, in trial, or
    /// past due (the grace and Stripe's retries); not once Stripe gave up or it ended.
    public var grantsPlan: Bool { ["active", "trialing", "past_due"].contains(status) }

    /// Stripe's statuses (`billing_accounts.status` allows these and `none`).
    public static let statuses: Set<String> = ["incomplete", "incomplete_expired", "trialing", "active", "past_due", "unpaid", "canceled", "paused"]
}

/// An account's billing row: its Stripe customer and the subscription as last applied.
public struct BillingAccount: Sendable, Equatable {
    public var userID: String
    public var customerID: String
    public var subscriptionID: String?
    /// The plan paid for this period (a downgrade waits in `pendingTier`).
    public var tier: String?
    public var pendingTier: String?
    /// Stripe's status, or `none` before the first subscription.
    public var status: String
    public var periodStart: Date?
    public var periodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    public var pastDueSince: Date?

    /// The columns `init(_:)` reads, by these names.
    static let columns = "user_id, stripe_customer_id, stripe_subscription_id, tier, pending_tier, status, current_period_start, current_period_end, cancel_at_period_end, past_due_since"

    init(_ row: PostgresRow) throws {
        let c = NamedRow(row)
        userID = try c("user_id")
        customerID = try c("stripe_customer_id")
        subscriptionID = try c("stripe_subscription_id")
        tier = try c("tier")
        pendingTier = try c("pending_tier")
        status = try c("status")
        periodStart = try c("current_period_start")
        periodEnd = try c("current_period_end")
        cancelAtPeriodEnd = try c("cancel_at_period_end")
        pastDueSince = try c("past_due_since")
    }

    /// The statuses of a subscription that has ended (or of none): a new one may replace it.
    public static let endedStatuses: Set<String> = ["none", "canceled", "incomplete_expired"]

    /// Whether a subscription is live (its plan granted, Stripe still trying to charge it, or
    /// paused): exactly what a new subscription may not replace.
    public var isSubscribed: Bool { subscriptionID != nil && !Self.endedStatuses.contains(status) }
}

/// The billing side of accounts: the Stripe customer of each user, the subscription's facts
/// applied newest-first-wins, the plan that follows from them, and Stripe events stored once.
public struct BillingStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The user's Stripe customer id, if one was made.
    public func customerID(userID: String) async throws -> String? {
        try await account(userID: userID, on: client)?.customerID
    }

    /// The user's billing row, if a customer was made.
    /// - Parameter lock: lock the row for the rest of the caller's transaction.
    public func account(userID: String, lock: Bool = false, on executor: any PostgresExecutor) async throws -> BillingAccount? {
        var bindings = PostgresBindings()
        bindings.append(userID)
        let sql = "SELECT \(BillingAccount.columns) FROM billing_accounts WHERE user_id = $1" + (lock ? " FOR UPDATE" : "")
        let rows = try await executor.run(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
        for try await row in rows { return try BillingAccount(row) }
        return nil
    }

    /// The user whose Stripe customer this is.
    public func userID(customerID: String) async throws -> String? {
        let rows = try await client.query("SELECT user_id FROM billing_accounts WHERE stripe_customer_id = \(customerID)", logger: logger)
        for try await id in rows.decode(String.self) { return id }
        return nil
    }

    /// Records the user's Stripe customer; a user has one for life.
    /// - Returns: the customer id the account holds (the earlier one if it had one).
    @discardableResult
    public func link(userID: String, stripeCustomerID: String) async throws -> String {
        let rows = try await client.query("""
            WITH made AS (
                INSERT INTO billing_accounts (user_id, stripe_customer_id) VALUES (\(userID), \(stripeCustomerID))
                ON CONFLICT (user_id) DO NOTHING RETURNING stripe_customer_id
            )
            SELECT stripe_customer_id FROM made
            UNION ALL SELECT stripe_customer_id FROM billing_accounts WHERE user_id = \(userID)
            LIMIT 1
            """, logger: logger)
        for try await id in rows.decode(String.self) { return id }
        return stripeCustomerID
    }

    /// The idempotency key of the account's next call to Stripe (`<user>-<what>-<n>`): a number
    /// of a sequence, which a rolled-back transaction never gives back, so a call that failed is
    /// never retried under the key of a different request.
    public func nextRequestKey(userID: String, _ what: String, on executor: any PostgresExecutor) async throws -> String {
        let rows = try await executor.run("SELECT nextval('billing_request_seq')", logger: logger)
        for try await sequence in rows.decode(Int64.self) { return "\(userID)-\(what)-\(sequence)" }
        throw DomainError(.notFound, "No request number was given")
    }

    /// What applying facts did.
    public enum Outcome: Sendable, Equatable {
        /// The row now holds these facts; the account's plan is `tier`; `changed` when the
        /// plan, status, period, cancellation or pending downgrade differ from before.
        case applied(tier: String, changed: Bool)
        /// The row already held newer facts, or another (live) subscription: nothing changed.
        case stale
        /// No account has this Stripe customer.
        case unknownCustomer
    }

    /// Applies a subscription's facts, as Stripe stated them at `asOf` (Unix seconds on the
    /// customer's clock; nil for an answer Stripe just gave us), only if not older than what
    /// the account holds and only for the account's own subscription (or a new one once the
    /// last ended), and sets the account's plan: the tier paid for while the subscription
    /// grants it, `free` once it ended. One statement, so concurrent events cannot interleave.
    public func apply(_ facts: SubscriptionFacts, customerID: String, asOf: Int?, on executor: any PostgresExecutor) async throws -> Outcome {
        let plan = facts.grantsPlan ? facts.paidTier : "free"
        let rows = try await executor.run("""
            WITH account AS (
                SELECT user_id, stripe_as_of, stripe_subscription_id, status, tier, pending_tier, current_period_end, cancel_at_period_end
                  FROM billing_accounts WHERE stripe_customer_id = \(customerID) FOR UPDATE
            ), decided AS (
                SELECT a.* FROM account a
                 WHERE a.stripe_as_of <= coalesce(\(asOf.map(Int64.init)), a.stripe_as_of)
                   AND (a.stripe_subscription_id IS NULL OR a.stripe_subscription_id = \(facts.stripeSubscriptionID)
                        OR a.status IN ('none', 'canceled', 'incomplete_expired'))
            ), updated AS (
                UPDATE billing_accounts b
                   SET stripe_subscription_id = \(facts.stripeSubscriptionID), tier = \(facts.paidTier), pending_tier = \(facts.pendingTier),
                       status = \(facts.status), current_period_start = \(facts.periodStart), current_period_end = \(facts.periodEnd),
                       cancel_at_period_end = \(facts.cancelAtPeriodEnd),
                       past_due_since = CASE WHEN \(facts.status) = 'past_due' THEN coalesce(b.past_due_since, now()) END,
                       stripe_as_of = greatest(b.stripe_as_of, coalesce(\(asOf.map(Int64.init)), 0)), updated_at = now()
                  FROM decided d
                 WHERE b.user_id = d.user_id
                RETURNING b.user_id,
                          (d.tier, d.status, d.current_period_end, d.cancel_at_period_end, d.pending_tier)
                              IS DISTINCT FROM (b.tier, b.status, b.current_period_end, b.cancel_at_period_end, b.pending_tier) AS changed
            ), plan AS (
                UPDATE users u SET subscription_tier = \(plan) FROM updated p WHERE u.id = p.user_id RETURNING u.id
            )
            SELECT (SELECT count(*) FROM account), (SELECT changed FROM updated)
            """, logger: logger)
        for try await (accounts, changed) in rows.decode((Int64, Bool?).self) {
            if accounts == 0 { return .unknownCustomer }
            guard let changed else { return .stale }
            return .applied(tier: plan, changed: changed)
        }
        return .unknownCustomer
    }

    /// Stores a Stripe event once.
    /// - Returns: false when the event was received before (a redelivery).
    public func record(eventID: String, type: String, created: Int, payload: String, on executor: any PostgresExecutor) async throws -> Bool {
        let rows = try await executor.run("""
            INSERT INTO stripe_events (id, type, created, payload) VALUES (\(eventID), \(type), \(Int64(created)), \(payload)::json)
            ON CONFLICT (id) DO NOTHING RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// A stored event's type, `created` and payload.
    public func event(_ id: String) async throws -> (type: String, created: Int, payload: String)? {
        let rows = try await client.query("SELECT type, created, payload::text FROM stripe_events WHERE id = \(id)", logger: logger)
        for try await (type, created, payload) in rows.decode((String, Int64, String).self) { return (type, Int(created), payload) }
        return nil
    }

    /// Marks a stored event handled.
    public func markApplied(_ id: String, on executor: any PostgresExecutor) async throws {
        try await executor.run("UPDATE stripe_events SET applied_at = now() WHERE id = \(id) AND applied_at IS NULL", logger: logger)
    }
}
