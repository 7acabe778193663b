package import Foundation
import Domain

/// Analytics: the figures channel syncs stored from YouTube Analytics.
extension APIService {
    /// An analytics `period` (`last_N_days`, one of the contract's enum values) as its name and
    /// number of days; absent, `fallback`.
    func analyticsPeriod(_ raw: String?, fallback: String = "last_30_days") -> (name: String, days: Int) {
        let name = raw ?? fallback
        let days = Int(name.dropFirst("last_".count).prefix { $0.isNumber }) ?? 30
        return (name, min(max(days, 1), 366))
    }

    func getAnalyticsOverview(_ input: Operations.GetAnalyticsOverview.Input) async throws -> Operations.GetAnalyticsOverview.Output {
        let caller = try CurrentUser.require()
        let period = analyticsPeriod(input.query.period?.rawValue)
        let overview = try await AnalyticsStore(client: client, logger: logger).overview(userID: caller.user.id, days: period.days)
        // Forecast now, not cached with the overview: a newly active model answers at once.
        let forecasts = await viewsForecasts(userID: caller.user.id, videoIDs: overview.topVideos.map(\.videoID))
        return .ok(.init(body: .json(.init(
            period: .init(rawValue: period.name) ?? .last30Days, from: overview.from, to: overview.to,
            metrics: .init(totalViews: Int(clamping: overview.totalViews), totalRevenue: overview.totalRevenue.dollars,
                           avgViewDuration: Int(clamping: overview.averageViewDuration), engagementRate: overview.engagementRate,
                           subscriberGrowth: Int(clamping: overview.subscriberGrowth)),
            topVideos: overview.topVideos.map { video in
                .init(videoId: video.videoID, title: video.title, youtubeVideoId: video.youtubeVideoID, views: Int(clamping: video.views),
                      revenue: video.revenue.dollars, engagement: video.engagement,
                      forecastViews30d: forecasts[video.videoID]?.horizons.first { $0.day == 30 }.map { Int(clamping: $0.views) })
            },
            channelPerformance: overview.channels.map { channel in
                .init(channelId: channel.channelID, name: channel.name, views: Int(clamping: channel.views), revenue: channel.revenue.dollars,
                      subscribersGained: Int(clamping: channel.subscribersGained), videosPublished: Int(clamping: channel.videosPublished),
                      cost: channel.cost.dollars, returnOnCost: channel.returnOnCost)
            }))))
    }
}
