package import Foundation
import Domain

/// Cost Management: the ledger's sums, the budgets and their enforcement's settings.
extension APIService {
    var budgets: CostBudgets { CostBudgets(client: client, logger: logger) }
    var costReports: CostReports { CostReports(client: client, logger: logger) }

    func getCostSummary(_ input: Operations.GetCostSummary.Input) async throws -> Operations.GetCostSummary.Output {
        let caller = try CurrentUser.require()
        let period = CostPeriod(rawValue: input.query.period?.rawValue ?? CostPeriod.currentMonth.rawValue) ?? .currentMonth
        let summary = try await costReports.summary(userID: caller.user.id, period: period)
        return .ok(.init(body: .json(.init(
            period: .init(period), from: summary.from, to: summary.to, totalCost: summary.total.dollars,
            breakdown: .init(additionalProperties: summary.breakdown.mapValues(\.dollars)), videosGenerated: summary.videosGenerated,
            averageCostPerVideo: summary.averagePerVideo.dollars, reserved: summary.reserved.dollars, assumed: summary.assumed.dollars,
            budget: summary.budget?.dollars, budgetRemaining: summary.budgetRemaining?.dollars))))
    }

    func getCostHistory(_ input: Operations.GetCostHistory.Input) async throws -> Operations.GetCostHistory.Output {
        let caller = try CurrentUser.require()
        let granularity = CostGranularity(rawValue: input.query.granularity?.rawValue ?? "day") ?? .day
        let grouping = input.query.groupBy.flatMap { CostGrouping(rawValue: $0.rawValue) }
        let history = try await costReports.history(userID: caller.user.id, from: input.query.from, to: input.query.to,
                                                    granularity: granularity, grouping: grouping)
        return .ok(.init(body: .json(.init(
            from: history.from, to: history.to, granularity: .init(rawValue: granularity.rawValue) ?? .day,
            groupBy: grouping.flatMap { .init(rawValue: $0.rawValue) },
            points: history.points.map { point in
                .init(start: point.start, total: point.total.dollars,
                      groups: point.groups.map { .init(additionalProperties: $0.mapValues(\.dollars)) })
            }))))
    }

    func getCostLimits(_ input: Operations.GetCostLimits.Input) async throws -> Operations.GetCostLimits.Output {
        let caller = try CurrentUser.require()
        return .ok(.init(body: .json(try await budgets.limits(userID: caller.user.id).schema)))
    }

    func updateCostLimits(_ input: Operations.UpdateCostLimits.Input) async throws -> Operations.UpdateCostLimits.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        for (name, value, maximum) in [("daily_budget", body.dailyBudget, 1_000_000.0), ("monthly_budget", body.monthlyBudget, 10_000_000),
                                       ("default_cost_limit", body.defaultCostLimit, 1000)] {
            if let value, !value.isFinite || value < 0 || value > maximum {
                throw APIError.validation("\(name) must be between 0 and \(Int(maximum)) dollars", field: name, issue: "out of range")
            }
        }
        let change = CostLimitsChange(dailyBudget: .some(body.dailyBudget.map(Money.init(dollars:))),
                                      monthlyBudget: .some(body.monthlyBudget.map(Money.init(dollars:))),
                                      defaultCostLimit: body.defaultCostLimit.map(Money.init(dollars:)), alertThresholds: body.alertThresholds)
        return .ok(.init(body: .json(try await budgets.update(userID: caller.user.id, change).schema)))
    }

    func getCostOptimization(_ input: Operations.GetCostOptimization.Input) async throws -> Operations.GetCostOptimization.Output {
        let caller = try CurrentUser.require()
        let found = try await CostAdvisor(client: client, logger: logger).suggestions(userID: caller.user.id)
        return .ok(.init(body: .json(.init(
            suggestions: found.suggestions.map { suggestion in
                .init(kind: .init(suggestion.kind), title: suggestion.title, detail: suggestion.detail,
                      projectedMonthlySaving: suggestion.projectedMonthlySaving.dollars,
                      evidence: .init(additionalProperties: suggestion.evidence))
            },
            reason: found.reason, videosConsidered: found.videosConsidered, daysConsidered: found.daysConsidered))))
    }
}

extension CostLimits {
    var schema: Components.Schemas.CostLimits {
        .init(dailyBudget: dailyBudget?.dollars, monthlyBudget: monthlyBudget?.dollars, defaultCostLimit: defaultCostLimit.dollars,
              alertThresholds: alertThresholds)
    }
}

extension Components.Schemas.CostSummary.PeriodPayload {
    init(_ period: CostPeriod) {
        switch period {
        case .currentMonth: self = .currentMonth
        case .lastMonth: self = .lastMonth
        case .today: self = .today
        case .last7Days: self = .last7Days
        case .last30Days: self = .last30Days
        }
    }
}

extension Components.Schemas.CostSuggestion.KindPayload {
    init(_ kind: CostSuggestion.Kind) {
        switch kind {
        case .cheaperModel: self = .cheaperModel
        case .frequentRedo: self = .frequentRedo
        case .failedSpend: self = .failedSpend
        case .budgetPace: self = .budgetPace
        }
    }
}
