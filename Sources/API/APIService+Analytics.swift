package import Foundation
import Domain

/// Analytics: the figures channel syncs stored from YouTube Analytics.
extension APIService {
    func getAnalyticsOverview(_ input: Operations.GetAnalyticsOverview.Input) async throws -> Operations.GetAnalyticsOverview.Output {
        let caller = try CurrentUser.require()
        let period = input.query.period ?? .last30Days
        let days = switch period {
        case .last7Days: 7
        case .last30Days: 30
        case .last90Days: 90
        }
        let overview = try await AnalyticsStore(client: client, logger: logger).overview(userID: caller.user.id, days: days)
        return .ok(.init(body: .json(.init(
            period: .init(rawValue: period.rawValue) ?? .last30Days, from: overview.from, to: overview.to,
            metrics: .init(totalViews: Int(clamping: overview.totalViews), totalRevenue: overview.totalRevenue.dollars,
                           avgViewDuration: Int(clamping: overview.averageViewDuration), engagementRate: overview.engagementRate,
                           subscriberGrowth: Int(clamping: overview.subscriberGrowth)),
            topVideos: overview.topVideos.map { video in
                .init(videoId: video.videoID, title: video.title, youtubeVideoId: video.youtubeVideoID, views: Int(clamping: video.views),
                      revenue: video.revenue.dollars, engagement: video.engagement)
            },
            channelPerformance: overview.channels.map { channel in
                .init(channelId: channel.channelID, name: channel.name, views: Int(clamping: channel.views), revenue: channel.revenue.dollars,
                      subscribersGained: Int(clamping: channel.subscribersGained), videosPublished: Int(clamping: channel.videosPublished),
                      cost: channel.cost.dollars, returnOnCost: channel.returnOnCost)
            }))))
    }
}
