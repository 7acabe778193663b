import Foundation
import Logging
import PostgresNIO
import Queue

/// A saving found in the user's own history, with the figures behind it.
public struct CostSuggestion: Sendable, Equatable {
    public enum Kind: String, Sendable { case cheaperModel = "cheaper_model", frequentRedo = "frequent_redo", failedSpend = "failed_spend", budgetPace = "budget_pace" }

    public var kind: Kind
    public var title: String
    public var detail: String
    /// At the last 30 days' rate; zero for a warning.
    public var projectedMonthlySaving: Money
    public var evidence: [String: Double]
}

/// Reads the last 30 days of a user's ledger and review scores for savings. Nothing generic:
/// every suggestion names the user's own figures, and too short a history gives none.
public struct CostAdvisor: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    /// Below this many videos with spend in the window, nothing is suggested.
    public static let minimumVideos = 5
    /// A cheaper model whose videos scored at most this many points lower is suggested.
    public static let scoreTolerance = 5.0
    /// Each model compared needs this many reviewed videos on the stage.
    public static let minimumSample = 3

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func suggestions(userID: String) async throws -> (suggestions: [CostSuggestion], reason: String?, videosConsidered: Int, daysConsidered: Int) {
        let days = 30
        let videos = try await scalar("""
            SELECT count(DISTINCT video_id) FROM cost_ledger WHERE user_id = \(userID) AND created_at > now() - interval '30 days' AND amount > 0
            """)
        guard videos >= Self.minimumVideos else {
            return ([], "Too little history: \(videos) video\(videos == 1 ? "" : "s") with spend in the last \(days) days; "
                    + "suggestions need at least \(Self.minimumVideos)", videos, days)
        }
        var found = try await cheaperModels(userID: userID)
        found += try await redoneStages(userID: userID)
        found += try await failedSpend(userID: userID)
        found += try await budgetPace(userID: userID)
        found.sort { $0.projectedMonthlySaving > $1.projectedMonthlySaving }
        return (found, found.isEmpty ? "Nothing to save found in the last \(days) days" : nil, videos, days)
    }

    /// Per stage, a model whose reviewed videos scored within `scoreTolerance` of the costliest
    /// model's, for less per call.
    func cheaperModels(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            WITH uses AS (
                SELECT l.stage, l.provider || '/' || l.model AS model, l.video_id, sum(l.amount) AS amount, max(v.quality_score) AS score
                  FROM cost_ledger l JOIN videos v ON v.id = l.video_id
                 WHERE l.user_id = \(userID) AND l.created_at > now() - interval '30 days' AND l.basis = 'actual' AND v.quality_score IS NOT NULL
                 GROUP BY 1, 2, 3
            ), models AS (
                SELECT stage, model, count(*) AS n, avg(amount)::float8 AS cost, avg(score)::float8 AS score FROM uses GROUP BY 1, 2
                HAVING count(*) >= \(Int32(Self.minimumSample))
            )
            SELECT e.stage, e.model, c.model, e.n, c.n, e.cost, c.cost, e.score, c.score
              FROM models e JOIN models c ON c.stage = e.stage AND c.cost < e.cost AND c.score >= e.score - \(Self.scoreTolerance)
             ORDER BY (e.cost - c.cost) * e.n DESC
            """, logger: logger)
        var seen = Set<String>()
        var result: [CostSuggestion] = []
        for try await (stage, expensive, cheap, expensiveCount, cheapCount, expensiveCost, cheapCost, expensiveScore, cheapScore)
            in rows.decode((String, String, String, Int64, Int64, Double, Double, Double, Double).self) where seen.insert(stage).inserted {
            let perCall = Int64(clamping: Int(exactly: (expensiveCost - cheapCost).rounded()) ?? 0)
            let (total, overflow) = perCall.multipliedReportingOverflow(by: expensiveCount)
            let saving = Money(micros: overflow ? Int64.max : total)
            result.append(CostSuggestion(
                kind: .cheaperModel, title: "Use \(cheap) for the \(stage) stage",
                detail: "Your \(cheapCount) videos on \(cheap) scored \(String(format: "%.1f", cheapScore)) on review against "
                    + "\(String(format: "%.1f", expensiveScore)) for \(expensiveCount) on \(expensive), at "
                    + "\(Money(micros: Int64(exactly: cheapCost.rounded()) ?? 0)) instead of \(Money(micros: Int64(exactly: expensiveCost.rounded()) ?? 0)) a video.",
                projectedMonthlySaving: saving,
                evidence: ["videos_expensive_model": Double(expensiveCount), "videos_cheaper_model": Double(cheapCount),
                           "average_cost_expensive": expensiveCost / 1e6, "average_cost_cheaper": cheapCost / 1e6,
                           "average_score_expensive": expensiveScore, "average_score_cheaper": cheapScore]))
        }
        return result
    }

    /// Stages paid for more than once on one video (redone after review or retried).
    func redoneStages(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            WITH per AS (
                SELECT stage, video_id, count(*) AS calls, sum(amount) AS amount, min(amount) AS first
                  FROM cost_ledger WHERE user_id = \(userID) AND created_at > now() - interval '30 days'
                 GROUP BY 1, 2 HAVING count(*) > 1
            )
            SELECT stage, count(*), sum(calls - 1)::int8, sum(amount - first)::int8 FROM per GROUP BY stage HAVING sum(amount - first) > 0
            """, logger: logger)
        var result: [CostSuggestion] = []
        for try await (stage, videos, extraCalls, extra) in rows.decode((String, Int64, Int64, Int64).self) {
            result.append(CostSuggestion(
                kind: .frequentRedo, title: "The \(stage) stage is paid for more than once",
                detail: "\(videos) video\(videos == 1 ? "" : "s") paid for the \(stage) stage \(extraCalls) extra time\(extraCalls == 1 ? "" : "s") "
                    + "(redone after review, or retried after a lost answer), costing \(Money(micros: extra)) in the last 30 days. "
                    + "A quality threshold matched to what the stage can reach, or steadier providers, avoid it.",
                projectedMonthlySaving: Money(micros: extra),
                evidence: ["videos": Double(videos), "extra_calls": Double(extraCalls), "extra_cost": Double(extra) / 1e6]))
        }
        return result
    }

    /// Spend on videos that failed anyway, by failure code.
    func failedSpend(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            SELECT coalesce(error_code, 'unknown'), count(*), sum(spent)::int8 FROM videos
             WHERE user_id = \(userID) AND status = 'failed' AND spent > 0 AND updated_at > now() - interval '30 days'
             GROUP BY 1
            """, logger: logger)
        var result: [CostSuggestion] = []
        for try await (code, videos, spent) in rows.decode((String, Int64, Int64).self) {
            result.append(CostSuggestion(
                kind: .failedSpend, title: "Spend on videos that failed with \(code)",
                detail: "\(videos) video\(videos == 1 ? "" : "s") failed with \(code) after spending \(Money(micros: spent)) in the last 30 days.",
                projectedMonthlySaving: Money(micros: spent),
                evidence: ["videos": Double(videos), "wasted": Double(spent) / 1e6]))
        }
        return result
    }

    /// A monthly budget the month's pace will reach before the month ends.
    func budgetPace(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            WITH t AS (SELECT cost_local_day(\(userID), now()) AS today)
            SELECT b.monthly_budget, coalesce(p.spent, 0)::int8, extract(day FROM t.today)::int4,
                   extract(day FROM (date_trunc('month', t.today) + interval '1 month - 1 day'))::int4
              FROM t JOIN cost_budgets b ON b.user_id = \(userID) AND b.monthly_budget IS NOT NULL
              LEFT JOIN cost_periods p ON p.user_id = b.user_id AND p.kind = 'month' AND p.starts_on = date_trunc('month', t.today)::date
            """, logger: logger)
        var result: [CostSuggestion] = []
        for try await (budget, spent, day, length) in rows.decode((Int64, Int64, Int32, Int32).self) where day > 0 {
            let projected = Double(spent) / Double(day) * Double(length)
            guard projected > Double(budget) else { continue }
            let reachDay = spent > 0 ? min(Int(length), Int(exactly: (Double(budget) / (Double(spent) / Double(day))).rounded(.up)) ?? Int(length))
                : Int(length)
            result.append(CostSuggestion(
                kind: .budgetPace, title: "This month's budget runs out around day \(reachDay)",
                detail: "\(Money(micros: spent)) spent in \(day) day\(day == 1 ? "" : "s") projects \(Money(micros: Int64(exactly: projected.rounded()) ?? Int64.max)) "
                    + "for the month against a budget of \(Money(micros: budget)); later stages will stop with budget_exceeded.",
                projectedMonthlySaving: .zero,
                evidence: ["spent": Double(spent) / 1e6, "budget": Double(budget) / 1e6, "projected": projected / 1e6, "day": Double(day)]))
        }
        return result
    }

    private func scalar(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await client.query(query, logger: logger).decode(Int64.self) { return Int(value) }
        return 0
    }
}
