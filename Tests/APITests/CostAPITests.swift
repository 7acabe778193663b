@testable import API
import Domain
import Foundation
import HTTPTypes
import TestSupport
import Testing

/// Cost Management through the router: limits, the summary and history against the ledger,
/// the 402 of a submission past a budget, and no invented advice.
@Suite struct CostAPITests {
    /// A video of the user's (through the API) and ledger rows written as the workers would.
    func videoWithSpend(_ api: APIClient, _ db: TestDatabase, _ token: String) async throws -> (videoID: String, userID: String) {
        let channel = try await api.call(.post, "/channels", json: ["name": "Costs"], token: token).decode(Components.Schemas.Channel.self).id
        let video = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Ledger", "cost_limit": 5.0], token: token)
            .decode(Components.Schemas.VideoAccepted.self).videoId
        let userID = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
        try await db.client.query("""
            INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis)
            VALUES (900001, 1, \(video), \(userID), 'script', 'openai', 'gpt-4o', 1, 'call', 1.25, 1250000, 'actual'),
                   (900002, 1, \(video), \(userID), 'thumbnail', 'openai', 'dall-e-3', 1, 'image', 0.4, 400000, 'actual'),
                   (900003, 1, \(video), \(userID), 'voice', 'elevenlabs', 'eleven_multilingual_v2', 1, 'call', 0.3, 300000, 'assumed')
            """, logger: db.logger)
        return (video, userID)
    }

    @Test func limitsAreReadSetAndChecked() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "limits@example.com")
                let initial = try await api.call(.get, "/costs/limits", token: token).decode(Components.Schemas.CostLimits.self)
                #expect(initial.dailyBudget == nil && initial.monthlyBudget == nil)
                #expect(initial.defaultCostLimit == 5 && initial.alertThresholds == [0.5, 0.8, 1.0])
                let set = try await api.call(.put, "/costs/limits", json: ["monthly_budget": 120.5, "daily_budget": 10, "default_cost_limit": 2.5,
                                                                           "alert_thresholds": [0.9, 0.25]], token: token)
                #expect(set.status == .ok)
                let limits = try set.decode(Components.Schemas.CostLimits.self)
                #expect(limits.monthlyBudget == 120.5 && limits.dailyBudget == 10 && limits.defaultCostLimit == 2.5)
                #expect(limits.alertThresholds == [0.25, 0.9])
                // The default limit is the settings' one too.
                #expect(try await api.call(.get, "/users/settings", token: token).decode(Components.Schemas.Settings.self).defaultCostLimit == 2.5)
                // Budgets are replaced: absent means none; the rest is kept.
                let cleared = try await api.call(.put, "/costs/limits", json: ["daily_budget": 3], token: token).decode(Components.Schemas.CostLimits.self)
                #expect(cleared.monthlyBudget == nil && cleared.dailyBudget == 3 && cleared.alertThresholds == [0.25, 0.9])
                for bad: [String: Any] in [["alert_thresholds": [0]], ["alert_thresholds": [1.5]], ["alert_thresholds": []], ["daily_budget": -1],
                                           ["default_cost_limit": 5000]] {
                    let reply = try await api.call(.put, "/costs/limits", json: bad, token: token)
                    #expect(reply.status == .badRequest, "\(bad)")
                    #expect(try (reply.decode(Components.Schemas.ErrorEnvelope.self).error) == "validation_error")
                }
            }
        }
    }

    @Test func theSummaryAndHistoryAreTheLedgersSumsInTheUsersTimeZone() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "summary@example.com")
                #expect(try await api.call(.put, "/users/settings", json: ["timezone": "Asia/Tokyo"], token: token).status == .ok)
                _ = try await videoWithSpend(api, db, token)
                _ = try await api.call(.put, "/costs/limits", json: ["daily_budget": 10], token: token)
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = try #require(TimeZone(identifier: "Asia/Tokyo"))
                let today = calendar.dateComponents([.year, .month, .day], from: Date())
                let todayText = String(format: "%04d-%02d-%02d", today.year ?? 0, today.month ?? 0, today.day ?? 0)

                let summary = try await api.call(.get, "/costs/summary?period=today", token: token).decode(Components.Schemas.CostSummary.self)
                #expect(summary.period == .today && summary.from == todayText && summary.to == todayText)
                #expect(summary.totalCost == 1.95)
                #expect(summary.breakdown.additionalProperties == ["openai": 1.25, "dall-e": 0.4, "elevenlabs": 0.3])
                #expect(summary.assumed == 0.3 && summary.reserved == 0)
                #expect(summary.budget == 10 && summary.budgetRemaining == 8.05)
                #expect(summary.videosGenerated == 0 && summary.averageCostPerVideo == 0)
                let month = try await api.call(.get, "/costs/summary", token: token).decode(Components.Schemas.CostSummary.self)
                #expect(month.period == .currentMonth && month.totalCost == 1.95 && month.budget == nil)
                #expect(try await api.call(.get, "/costs/summary?period=last_year", token: token).status == .badRequest)

                let week = try await api.call(.get, "/costs/history?granularity=day&group_by=provider&to=\(todayText)", token: token)
                    .decode(Components.Schemas.CostHistory.self)
                #expect(week.to == todayText && week.points.count == 30, "gaps are zero-filled")
                #expect(week.points.last?.start == todayText && week.points.last?.total == 1.95)
                #expect(week.points.last?.groups?.additionalProperties == ["openai": 1.25, "dall-e": 0.4, "elevenlabs": 0.3])
                #expect(week.points.dropLast().allSatisfy { $0.total == 0 })
                let byStage = try await api.call(.get, "/costs/history?granularity=month&group_by=stage", token: token)
                    .decode(Components.Schemas.CostHistory.self)
                #expect(byStage.points.map(\.total).reduce(0, +) == 1.95)
                #expect(byStage.points.last?.groups?.additionalProperties["thumbnail"] == 0.4)
                for query in ["from=2026-02-30", "from=2026-01-10&to=2026-01-01", "from=2020-01-01&to=2026-01-01", "to=yesterday"] {
                    let reply = try await api.call(.get, "/costs/history?\(query)", token: token)
                    #expect(reply.status == .badRequest, "\(query)")
                }
                #expect(try await api.call(.get, "/costs/history?from=2020-01-01&to=2026-01-01&granularity=week", token: token).status == .ok)
            }
        }
    }

    @Test func aSubmissionPastABudgetIs402AndANewAccountGetsNoAdvice() async throws {
        var plan = PipelinePlan.offline
        plan.prices.prices.removeAll { $0.model == "espeak-ng" }
        plan.prices.prices.append(.init(provider: "offline", model: "espeak-ng", unit: "character", usdPerUnit: 0.001))
        try await withDatabase { db in
            try await withAPI(db, plan: plan) { api in
                let token = try await signUp(api, db, "budget@example.com")
                let advice = try await api.call(.get, "/costs/optimization", token: token).decode(Components.Schemas.CostOptimization.self)
                #expect(advice.suggestions.isEmpty && advice.reason?.contains("Too little history") == true)
                let channel = try await api.call(.post, "/channels", json: ["name": "Budget"], token: token).decode(Components.Schemas.Channel.self).id
                _ = try await api.call(.put, "/costs/limits", json: ["monthly_budget": 0.001], token: token)
                let refused = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Too dear", "cost_limit": 5.0, "duration_target": 30],
                                                 token: token)
                #expect(refused.status.code == 402)
                let envelope = try refused.decode(Components.Schemas.ErrorEnvelope.self)
                #expect(envelope.error == "budget_exceeded" && envelope.details?.reason == "monthly_budget")
                #expect(try await db.scalar("SELECT count(*) FROM videos") == 0)
            }
        }
    }
}
