import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Channel sync as a queue job (`channel.sync`): the channel's and its published videos'
/// statistics from YouTube into today's snapshots. Its list calls' units are reserved on the
/// channel's account first; without room the sync waits for the reset.
public struct ChannelSyncJobs: Sendable {
    public let gateway: any YouTubeGateway
    public let stats: ChannelStats
    public let analytics: AnalyticsStore
    public let allocator: QuotaAllocator
    let tokens: AccountTokens
    public let now: @Sendable () -> Date

    public init(client: PostgresClient, gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.gateway = gateway
        self.stats = ChannelStats(client: client, logger: logger)
        self.analytics = AnalyticsStore(client: client, logger: logger)
        self.allocator = QuotaAllocator(client: client, policy: policy, logger: logger)
        self.tokens = AccountTokens(gateway: gateway, accounts: YouTubeAccountRepository(client: client, cipher: cipher, policy: policy, logger: logger))
        self.now = now
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(ChannelSyncArgs.kind, timeout: .seconds(300)) { context in try await sync(context) }
    }

    func sync(_ context: JobContext) async throws -> JobResult {
        let args = try context.args(ChannelSyncArgs.self)
        guard let target = try await stats.target(channelID: args.channelID) else {
            return .cancel("the channel is gone or not linked to an active YouTube account")
        }
        let batches = stride(from: 0, to: target.videos.count, by: 50).map { Array(target.videos[$0..<min($0 + 50, target.videos.count)]) }
        let policy = allocator.policy
        let units = policy.cost("channels.list") + batches.count * policy.cost("videos.list")
        guard try await allocator.charge(accountID: target.accountID, units: units, now: now()) != nil else {
            let wait = max(1, QuotaDay.nextReset(after: now()).timeIntervalSince(now())) + Double.random(in: 0..<30)
            return .snooze(.milliseconds(Int64(wait * 1000)))
        }
        let fetched = try await tokens.withToken(target.accountID) { token -> (YouTubeChannelInfo, [String: YouTubeVideoStats]) in
            let channel = try await gateway.myChannel(accessToken: token)
            var videos: [String: YouTubeVideoStats] = [:]
            for batch in batches {
                let byYouTubeID = Dictionary(batch.map { ($0.youtubeID, $0.id) }, uniquingKeysWith: { first, _ in first })
                for stats in try await gateway.videoStatistics(ids: batch.map(\.youtubeID), accessToken: token) {
                    if let id = byYouTubeID[stats.id] { videos[id] = stats }
                }
            }
            return (channel, videos)
        }
        guard let (channel, videos) = fetched else { return .cancel("the channel's YouTube account needs reconnecting") }
        try await stats.record(channelID: args.channelID, channel: channel, videos: videos, now: now())
        try await syncAnalytics(target, logger: context.logger)
        return .completed
    }

    /// The channel's and its newest published videos' days from YouTube Analytics, from 90
    /// days back the first time (else the last stored days again, which YouTube may revise) to
    /// yesterday, on the Analytics API's own quota. Refused scopes are remembered, and revenue
    /// is left out when only the monetary scope is missing.
    func syncAnalytics(_ target: SyncTarget, logger: Logger) async throws {
        let today = QuotaDay.of(now())
        let yesterday = QuotaDay.of(now().addingTimeInterval(-86_400))
        guard let plan = try await analytics.plan(accountID: target.accountID, channelID: target.channelID, today: today), plan.granted,
              plan.from <= yesterday else { return }
        let videos = Array(target.videos.suffix(50))
        guard try await analytics.charge(accountID: target.accountID, units: 1 + videos.count, now: now()) else {
            logger.info("the account's Analytics quota is spent for today; analytics wait for the next sync")
            return
        }
        var revenue = plan.revenue
        let fetched = try await tokens.withToken(target.accountID) { token -> ([AnalyticsDay], [String: [AnalyticsDay]])? in
            func report(_ videoID: String?) async throws -> [AnalyticsDay] {
                let metrics = AnalyticsQuery.dashboardMetrics.filter { revenue || $0 != "estimatedRevenue" }
                let query = AnalyticsQuery(startDate: plan.from, endDate: yesterday, metrics: metrics, dimension: .day,
                                           videoIDs: videoID.map { [$0] })
                return AnalyticsDay.rows(of: try await gateway.analyticsReport(query, accessToken: token))
            }
            let channel: [AnalyticsDay]
            do {
                channel = try await report(nil)
            } catch let error as YouTubeError where error.status == 403 && revenue && !error.message.contains("insufficient") {
                try await analytics.markRefused(accountID: target.accountID, revenueOnly: true)
                revenue = false
                channel = try await report(nil)
            } catch let error as YouTubeError where error.status == 403 {
                try await analytics.markRefused(accountID: target.accountID, revenueOnly: false)
                return nil
            }
            var byVideo: [String: [AnalyticsDay]] = [:]
            for video in videos { byVideo[video.id] = try await report(video.youtubeID) }
            return (channel, byVideo)
        }
        guard let fetched, let (channel, byVideo) = fetched else { return }
        try await analytics.record(channelID: target.channelID, channel: channel, videos: byVideo)
    }
}
