import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that announces budgets being used up: for each user's day and month
/// with a budget, every alert threshold that what is spent and held has reached (reservations
/// are worst cases, so spend alone seldom meets 1.0 of a budget they guard) writes one `cost.limit_reached`
/// (webhooks and live events) and is remembered in the period's row, in the same transaction,
/// so a threshold is announced once per period whatever the number of dispatchers.
public struct BudgetAlerter: MaintenanceTask {
    public let client: PostgresClient
    public let logger: Logger
    public let interval: Duration
    public var name: String { "budget-alerter" }

    public init(client: PostgresClient, logger: Logger, interval: Duration = .seconds(5)) {
        self.client = client
        self.logger = logger
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT p.user_id, p.kind, to_char(p.starts_on, 'YYYY-MM-DD'), p.spent + p.reserved, CASE p.kind WHEN 'day' THEN b.daily_budget ELSE b.monthly_budget END,
                       b.alert_thresholds, p.alerted
                  FROM cost_periods p JOIN cost_budgets b ON b.user_id = p.user_id
                 WHERE p.spent + p.reserved > 0 AND p.starts_on >= current_date - 40
                   AND CASE p.kind WHEN 'day' THEN b.daily_budget ELSE b.monthly_budget END > 0
                   AND EXISTS (SELECT 1 FROM unnest(b.alert_thresholds) t
                                WHERE NOT (t = ANY (p.alerted))
                                  AND p.spent + p.reserved >= t * CASE p.kind WHEN 'day' THEN b.daily_budget ELSE b.monthly_budget END)
                 LIMIT 500
                   FOR UPDATE OF p SKIP LOCKED
                """, logger: logger)
            var due: [(String, String, String, Int64, Int64, [Double], [Double])] = []
            for try await row in rows.decode((String, String, String, Int64, Int64, [Double], [Double]).self) { due.append(row) }
            var announced = 0
            for (userID, kind, startsOn, spent, budget, thresholds, alerted) in due {
                let crossed = thresholds.filter { !alerted.contains($0) && Double(spent) >= $0 * Double(budget) }
                guard !crossed.isEmpty else { continue }
                for threshold in crossed {
                    try await DomainEvents.record(type: "cost.limit_reached", userID: userID, data: DomainEvents.json([
                        "scope": kind == "day" ? "daily_budget" : "monthly_budget", "period_start": startsOn, "threshold": threshold,
                        "spent_and_held": Money(micros: spent).dollars, "budget": Money(micros: budget).dollars,
                    ]), on: connection, logger: logger)
                    announced += 1
                }
                try await connection.query("""
                    UPDATE cost_periods SET alerted = alerted || \(crossed) WHERE user_id = \(userID) AND kind = \(kind) AND starts_on = \(startsOn)::date
                    """, logger: logger)
            }
            return announced
        }
    }
}
