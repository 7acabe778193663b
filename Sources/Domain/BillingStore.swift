import Foundation
import Logging
import PostgresNIO

/// A subscription as Stripe states it, in our terms: the plan comes from the price's lookup
/// key (`<tier>_monthly`).
public struct SubscriptionFacts: Sendable, Equatable {
    public var stripeSubscriptionID: String
    /// Stripe's status: `incomplete`, `incomplete_expired`, `trialing`, `active`, `past_due`,
    /// `unpaid`, `canceled`, `paused`.
    public var status: String
    public var tier: String
    public var periodStart: Date?
    public var periodEnd: Date?
    public var cancelAtPeriodEnd: Bool

    public init(stripeSubscriptionID: String, status: String, tier: String, periodStart: Date?, periodEnd: Date?, cancelAtPeriodEnd: Bool) {
        self.stripeSubscriptionID = stripeSubscriptionID
        self.status = status
        self.tier = tier
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
    }

    /// The tier a price's lookup key names (`professional_monthly` → `professional`).
    public static func tier(lookupKey: String?) -> String? {
        guard let key = lookupKey, key.hasSuffix("_monthly"), key.count > "_monthly".count else { return nil }
        return String(key.dropLast("_monthly".count))
    }

    /// Whether the account has the plan's limits in this state: while paid, in trial, or
    /// past due (the grace and Stripe's retries); not once Stripe gave up or it ended.
    public var grantsPlan: Bool { ["active", "trialing", "past_due"].contains(status) }
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
        let rows = try await client.query("SELECT stripe_customer_id FROM billing_accounts WHERE user_id = \(userID)", logger: logger)
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

    /// What applying facts did.
    public enum Outcome: Sendable, Equatable {
        /// The row now holds these facts; the account's plan is `tier`.
        case applied(tier: String)
        /// The row already held newer facts: nothing changed.
        case stale
        /// No account has this Stripe customer.
        case unknownCustomer
    }

    /// Applies a subscription's facts as Stripe stated them at `asOf` (Unix seconds), only if not older than what
    /// the account holds, and sets the account's plan: the subscription's tier while it grants
    /// it, `free` once it ended. A downgrade waiting for the period's end is cleared once the
    /// subscription's tier reached it. One statement, so concurrent events cannot interleave.
    public func apply(_ facts: SubscriptionFacts, customerID: String, asOf: Int) async throws -> Outcome {
        let plan = facts.grantsPlan ? facts.tier : "free"
        let rows = try await client.query("""
            WITH account AS (
                SELECT user_id, stripe_as_of FROM billing_accounts WHERE stripe_customer_id = \(customerID) FOR UPDATE
            ), updated AS (
                UPDATE billing_accounts b
                   SET stripe_subscription_id = \(facts.stripeSubscriptionID), tier = \(facts.tier), status = \(facts.status),
                       current_period_start = \(facts.periodStart), current_period_end = \(facts.periodEnd),
                       cancel_at_period_end = \(facts.cancelAtPeriodEnd),
                       pending_tier = CASE WHEN b.pending_tier = \(facts.tier) OR NOT \(facts.grantsPlan) THEN NULL ELSE b.pending_tier END,
                       past_due_since = CASE WHEN \(facts.status) = 'past_due' THEN coalesce(b.past_due_since, now()) END,
                       stripe_as_of = \(Int64(asOf)), updated_at = now()
                  FROM account a
                 WHERE b.user_id = a.user_id AND a.stripe_as_of <= \(Int64(asOf))
                RETURNING b.user_id
            ), plan AS (
                UPDATE users SET subscription_tier = \(plan) WHERE id IN (SELECT user_id FROM updated) RETURNING id
            )
            SELECT (SELECT count(*) FROM account), (SELECT count(*) FROM plan)
            """, logger: logger)
        for try await (accounts, changed) in rows.decode((Int64, Int64).self) {
            if accounts == 0 { return .unknownCustomer }
            return changed > 0 ? .applied(tier: plan) : .stale
        }
        return .unknownCustomer
    }

    /// Stores a Stripe event once.
    /// - Returns: false when the event was received before (a redelivery).
    public func record(eventID: String, type: String, created: Int, payload: String) async throws -> Bool {
        let rows = try await client.query("""
            INSERT INTO stripe_events (id, type, created, payload) VALUES (\(eventID), \(type), \(Int64(created)), \(payload)::jsonb)
            ON CONFLICT (id) DO NOTHING RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }
}
