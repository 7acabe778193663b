import Foundation
import Logging
import PostgresNIO
import Queue

/// A user's budgets over all videos, the default per-video limit and the alert thresholds.
public struct CostLimits: Sendable, Equatable {
    public var dailyBudget: Money?
    public var monthlyBudget: Money?
    public var defaultCostLimit: Money
    /// Fractions of a budget, ascending, each announced once per period by `cost.limit_reached`.
    public var alertThresholds: [Double]

    public static let defaultThresholds = [0.5, 0.8, 1.0]
}

/// A change to the limits: nil leaves a field as it is; `.some(nil)` removes a budget.
public struct CostLimitsChange: Sendable {
    public var dailyBudget: Money??
    public var monthlyBudget: Money??
    public var defaultCostLimit: Money?
    public var alertThresholds: [Double]?

    public init(dailyBudget: Money?? = nil, monthlyBudget: Money?? = nil, defaultCostLimit: Money? = nil, alertThresholds: [Double]? = nil) {
        self.dailyBudget = dailyBudget
        self.monthlyBudget = monthlyBudget
        self.defaultCostLimit = defaultCostLimit
        self.alertThresholds = alertThresholds
    }

    /// Checks the values a client may send.
    /// - Throws: `invalid` naming the field.
    public func validate() throws {
        for (name, value) in [("daily_budget", dailyBudget), ("monthly_budget", monthlyBudget)] {
            if case .some(.some(let budget)) = value, budget.micros < 0 {
                throw DomainError(.invalid, "\(name) must not be negative", field: name)
            }
        }
        if let limit = defaultCostLimit, limit.micros < 0 || limit > Money(dollars: 1000) {
            throw DomainError(.invalid, "default_cost_limit must be between 0 and 1000", field: "default_cost_limit")
        }
        if let thresholds = alertThresholds {
            guard (1...10).contains(thresholds.count), thresholds.allSatisfy({ $0.isFinite && $0 > 0 && $0 <= 1 }) else {
                throw DomainError(.invalid, "alert_thresholds must hold 1 to 10 fractions above 0 and at most 1", field: "alert_thresholds")
            }
        }
    }
}

/// The SQL of `cost_budgets` (the ceilings `cost_reserve` enforces) and of what is left of them.
public struct CostBudgets: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The user's limits (defaults when never set).
    public func limits(userID: String, on executor: (any PostgresExecutor)? = nil) async throws -> CostLimits {
        let rows = try await (executor ?? client).run("""
            SELECT b.daily_budget, b.monthly_budget, b.alert_thresholds,
                   coalesce(CASE WHEN jsonb_typeof(u.settings->'default_cost_limit') = 'number'
                                 THEN round((u.settings->>'default_cost_limit')::numeric * 1000000) END, 5000000)::int8
              FROM users u LEFT JOIN cost_budgets b ON b.user_id = u.id
             WHERE u.id = \(userID)
            """, logger: logger)
        for try await (daily, monthly, thresholds, defaultLimit) in rows.decode((Int64?, Int64?, [Double]?, Int64).self) {
            return CostLimits(dailyBudget: daily.map(Money.init(micros:)), monthlyBudget: monthly.map(Money.init(micros:)),
                              defaultCostLimit: Money(micros: defaultLimit),
                              alertThresholds: (thresholds ?? CostLimits.defaultThresholds).sorted())
        }
        throw DomainError(.notFound, "No such user")
    }

    /// Applies `change` and returns the limits after it. Thresholds already announced this
    /// period stay announced.
    public func update(userID: String, _ change: CostLimitsChange) async throws -> CostLimits {
        try change.validate()
        return try await client.withTransaction(logger: logger) { connection in
            let current = try await limits(userID: userID, on: connection)
            let daily = change.dailyBudget.map { $0 } ?? current.dailyBudget
            let monthly = change.monthlyBudget.map { $0 } ?? current.monthlyBudget
            let thresholds = (change.alertThresholds ?? current.alertThresholds).sorted()
            try await connection.query("""
                INSERT INTO cost_budgets (user_id, daily_budget, monthly_budget, alert_thresholds)
                VALUES (\(userID), \(daily?.micros), \(monthly?.micros), \(thresholds))
                ON CONFLICT (user_id) DO UPDATE SET daily_budget = excluded.daily_budget, monthly_budget = excluded.monthly_budget,
                       alert_thresholds = excluded.alert_thresholds, updated_at = now()
                """, logger: logger)
            if let limit = change.defaultCostLimit {
                try await connection.query("""
                    UPDATE users SET settings = settings || jsonb_build_object('default_cost_limit', \(limit.dollars)::float8), updated_at = now()
                     WHERE id = \(userID)
                    """, logger: logger)
            }
            return try await limits(userID: userID, on: connection)
        }
    }

    /// What is left today and this month under each budget (nil without one): the budget less
    /// what the period spent and holds now.
    public func remaining(userID: String, on executor: (any PostgresExecutor)? = nil) async throws -> (daily: Money?, monthly: Money?) {
        let rows = try await (executor ?? client).run("""
            WITH t AS (SELECT cost_local_day(\(userID), now()) AS today)
            SELECT b.daily_budget - coalesce((SELECT spent + reserved FROM cost_periods p, t
                                               WHERE p.user_id = b.user_id AND p.kind = 'day' AND p.starts_on = t.today), 0),
                   b.monthly_budget - coalesce((SELECT spent + reserved FROM cost_periods p, t
                                                 WHERE p.user_id = b.user_id AND p.kind = 'month'
                                                   AND p.starts_on = date_trunc('month', t.today)::date), 0)
              FROM cost_budgets b WHERE b.user_id = \(userID)
            """, logger: logger)
        for try await (daily, monthly) in rows.decode((Int64?, Int64?).self) {
            return (daily.map(Money.init(micros:)), monthly.map(Money.init(micros:)))
        }
        return (nil, nil)
    }
}
