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

    public func suggestions(userID: String, now: Date = Date()) async throws
        -> (suggestions: [CostSuggestion], reason: String?, videosConsidered: Int, daysConsidered: Int) {
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
        found += try await budgetPace(userID: userID, now: now)
        found.sort { $0.projectedMonthlySaving > $1.projectedMonthlySaving }
        return (found, found.isEmpty ? "Nothing to save found in the last \(days) days" : nil, videos, days)
    }

    /// Per stage, a model whose reviewed videos scored within `scoreTolerance` of the costliest
    /// model's on that stage's own part of the review (the script's length and keyword
    /// coverage, the voice's duration, the thumbnail; the whole score for the others), for less
    /// per video.
    func cheaperModels(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            WITH uses AS (
                SELECT l.stage, l.provider || '/' || l.model AS model, l.video_id, sum(l.amount) AS amount,
                       max(coalesce(CASE l.stage
                                        WHEN 'script' THEN least((v.quality->>'script_length')::int, (v.quality->>'keyword_coverage')::int)
                                        WHEN 'voice' THEN (v.quality->>'audio_duration')::int
                                        WHEN 'thumbnail' THEN (v.quality->>'thumbnail')::int
                                    END, v.quality_score)) AS score
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

    /// Stages run again on one video (a redo after a low review score, or a failed video
    /// retried): every run after a stage's first is a job of its own, so the spend on the later
    /// jobs is what the redos cost. Retried attempts within one run are not redos.
    func redoneStages(userID: String) async throws -> [CostSuggestion] {
        let rows = try await client.query("""
            WITH runs AS (
                SELECT stage, video_id, job_id, sum(amount) AS amount,
                       min(job_id) OVER (PARTITION BY stage, video_id) AS first_job
                  FROM cost_ledger WHERE user_id = \(userID) AND created_at > now() - interval '30 days'
                 GROUP BY 1, 2, 3
            )
            SELECT stage, count(DISTINCT video_id), count(*)::int8, sum(amount)::int8
              FROM runs WHERE job_id <> first_job GROUP BY stage HAVING sum(amount) > 0
            """, logger: logger)
        var result: [CostSuggestion] = []
        for try await (stage, videos, extraRuns, extra) in rows.decode((String, Int64, Int64, Int64).self) {
            result.append(CostSuggestion(
                kind: .frequentRedo, title: "The \(stage) stage is redone often",
                detail: "\(videos) video\(videos == 1 ? "" : "s") ran the \(stage) stage \(extraRuns) more time\(extraRuns == 1 ? "" : "s") "
                    + "(redone after a low review score, or retried after failing), costing \(Money(micros: extra)) in the last 30 days. "
                    + "A quality threshold matched to what the stage reaches, or a model that reaches it the first time, avoids it.",
                projectedMonthlySaving: Money(micros: extra),
                evidence: ["videos": Double(videos), "extra_runs": Double(extraRuns), "extra_cost": Double(extra) / 1e6]))
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

    /// A daily or monthly budget that the spend so far, kept up at its pace, reaches before the
    /// day or month ends (in the user's time zone). A warning: it saves nothing by itself.
    func budgetPace(userID: String, now: Date) async throws -> [CostSuggestion] {
        // How far into the day and the month `now` is, and what each period has spent.
        let rows = try await client.query("""
            WITH t AS (SELECT (\(now)::timestamptz AT TIME ZONE cost_user_zone(\(userID))) AS local_now),
                 d AS (SELECT local_now, local_now::date AS today, date_trunc('month', local_now)::date AS month FROM t)
            SELECT 'day', b.daily_budget, coalesce(p.spent, 0)::int8,
                   extract(epoch FROM d.local_now - d.today::timestamp)::float8 / 86400, 1::float8
              FROM d JOIN cost_budgets b ON b.user_id = \(userID) AND b.daily_budget IS NOT NULL
              LEFT JOIN cost_periods p ON p.user_id = b.user_id AND p.kind = 'day' AND p.starts_on = d.today
            UNION ALL
            SELECT 'month', b.monthly_budget, coalesce(p.spent, 0)::int8,
                   extract(epoch FROM d.local_now - d.month::timestamp)::float8 / 86400,
                   extract(day FROM (d.month + interval '1 month' - interval '1 day'))::float8
              FROM d JOIN cost_budgets b ON b.user_id = \(userID) AND b.monthly_budget IS NOT NULL
              LEFT JOIN cost_periods p ON p.user_id = b.user_id AND p.kind = 'month' AND p.starts_on = d.month
            """, logger: logger)
        var result: [CostSuggestion] = []
        for try await (period, budget, spent, elapsed, length) in rows.decode((String, Int64, Int64, Double, Double).self) {
            // Too early in the period for a pace to mean anything: the first hour of a day, the first 1.25 days of a month.
            guard elapsed >= length / 24, spent > 0 else { continue }
            let rate = Double(spent) / elapsed
            let projected = rate * length
            guard projected > Double(budget) else { continue }
            let reached = min(length, max(elapsed, Double(budget) / rate))
            let when = period == "day"
                ? String(format: "around %02d:00", min(23, Int(exactly: (reached * 24).rounded(.down)) ?? 23))
                : "around day \(min(Int(exactly: length.rounded()) ?? 31, Int(exactly: reached.rounded(.up)) ?? 31))"
            let name = period == "day" ? "Today's" : "This month's"
            result.append(CostSuggestion(
                kind: .budgetPace, title: "\(name) budget runs out \(when)",
                detail: "\(Money(micros: spent)) spent so far projects \(Money(micros: Int64(exactly: projected.rounded()) ?? Int64.max)) "
                    + "for the \(period) against a budget of \(Money(micros: budget)); later stages will stop with budget_exceeded.",
                projectedMonthlySaving: .zero,
                evidence: ["spent": Double(spent) / 1e6, "budget": Double(budget) / 1e6, "projected": projected / 1e6,
                           "elapsed_days": elapsed, "period_days": length]))
        }
        return result
    }

    private func scalar(_ query: PostgresQuery) async throws -> Int {
        for try await value in try await client.query(query, logger: logger).decode(Int64.self) { return Int(value) }
        return 0
    }
}
