package import Foundation
import Domain

/// `/analytics/revenue` and `/analytics/engagement`: the stored days summed by day, channel and video.
extension APIService {
    func getAnalyticsRevenue(_ input: Operations.GetAnalyticsRevenue.Input) async throws -> Operations.GetAnalyticsRevenue.Output {
        let caller = try CurrentUser.require()
        let period = analyticsPeriod(input.query.period?.rawValue)
        let store = AnalyticsStore(client: client, logger: logger)
        let (from, to) = AnalyticsStore.period(days: period.days, now: Date())
        let total = try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .total).first
        let days = try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .day)
        let channels = try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .channel, orderByRevenue: true)
        let videos = try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .video, orderByRevenue: true, limit: 20)
        let share = { (figures: AnalyticsFigures) -> Components.Schemas.RevenueShare in
            .init(id: figures.key ?? "", name: figures.name ?? "", revenue: (figures.revenue ?? .zero).dollars,
                  views: Int(clamping: figures.views), rpm: figures.rpm)
        }
        return .ok(.init(body: .json(.init(
            period: .init(rawValue: period.name) ?? .last30Days, from: from, to: to, totalRevenue: (total?.revenue ?? .zero).dollars,
            views: Int(clamping: total?.views ?? 0), rpm: total?.rpm ?? 0,
            revenueComplete: try await store.revenueComplete(userID: caller.user.id),
            series: days.map { .init(day: $0.key ?? "", revenue: ($0.revenue ?? .zero).dollars, views: Int(clamping: $0.views)) },
            byChannel: channels.map(share), byVideo: videos.map(share)))))
    }

    func getAnalyticsEngagement(_ input: Operations.GetAnalyticsEngagement.Input) async throws -> Operations.GetAnalyticsEngagement.Output {
        let caller = try CurrentUser.require()
        let period = analyticsPeriod(input.query.period?.rawValue)
        let store = AnalyticsStore(client: client, logger: logger)
        let (from, to) = AnalyticsStore.period(days: period.days, now: Date())
        let schema = { (figures: AnalyticsFigures) -> Components.Schemas.EngagementFigures in
            .init(key: figures.key, name: figures.name, views: Int(clamping: figures.views), likesPer1000: figures.perThousand(figures.likes),
                  commentsPer1000: figures.perThousand(figures.comments), sharesPer1000: figures.perThousand(figures.shares),
                  avgViewDuration: Int(clamping: figures.averageViewDuration), avgViewPercentage: figures.averageViewPercentage)
        }
        let total = try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .total).first
            ?? .empty
        return .ok(.init(body: .json(.init(
            period: .init(rawValue: period.name) ?? .last30Days, from: from, to: to, totals: schema(total),
            series: try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .day).map(schema),
            byChannel: try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .channel).map(schema),
            byVideo: try await store.figures(userID: caller.user.id, from: from, to: to, grouping: .video, limit: 20).map(schema)))))
    }
}
