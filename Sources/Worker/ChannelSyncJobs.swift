import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Channel sync as a queue job (`channel.sync`): the channel's and its published videos'
/// statistics from YouTube into today's snapshots, their last days of YouTube Analytics, and
/// once a day the user's competitors and the most-popular chart. Its list calls' units are
/// reserved on the channel's account first; without room the sync waits for the reset. The
/// 90-day Analytics backfill (`analytics.backfill`) is its own job.
public struct ChannelSyncJobs: Sendable {
    public let gateway: any YouTubeGateway
    public let stats: ChannelStats
    public let analytics: AnalyticsStore
    public let backfills: AnalyticsBackfills
    public let publicFigures: PublicFigures
    public let allocator: QuotaAllocator
    let tokens: AccountTokens
    public let now: @Sendable () -> Date

    public init(client: PostgresClient, gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.gateway = gateway
        self.stats = ChannelStats(client: client, logger: logger)
        self.analytics = AnalyticsStore(client: client, logger: logger)
        self.backfills = AnalyticsBackfills(client: client, logger: logger)
        self.publicFigures = PublicFigures(client: client, gateway: gateway, cipher: cipher, policy: policy, now: now, logger: logger)
        self.allocator = QuotaAllocator(client: client, policy: policy, logger: logger)
        self.tokens = AccountTokens(gateway: gateway, accounts: YouTubeAccountRepository(client: client, cipher: cipher, policy: policy, logger: logger))
        self.now = now
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(ChannelSyncArgs.kind, timeout: .seconds(300)) { context in try await sync(context) }
        registry.register(AnalyticsBackfillArgs.kind, timeout: .seconds(300)) { context in try await backfill(context) }
        registry.register(ChannelSyncArgs.dueKind, timeout: .seconds(300)) { _ in
            try await stats.requestDueSyncs()
            return .completed
        }
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
        try await syncAnalytics(target, userID: args.userID, logger: context.logger)
        await publicFigures.dailySnapshots(userID: args.userID, accountID: target.accountID)
        return .completed
    }

    /// The channel's and its newest published videos' last days from YouTube Analytics (the
    /// last stored days again, which YouTube may revise, to yesterday; the 90 days before the
    /// first sync are the backfill's, started here if it never ran), on the Analytics API's own
    /// quota.
    func syncAnalytics(_ target: SyncTarget, userID: String, logger: Logger) async throws {
        let today = QuotaDay.of(now())
        let yesterday = QuotaDay.of(now(), daysBefore: 1)
        guard let plan = try await analytics.plan(accountID: target.accountID, channelID: target.channelID, today: today), plan.granted
        else { return }
        if !plan.backfilled { try await backfills.start(channelID: target.channelID, userID: userID, now: now()) }
        guard plan.from <= yesterday else { return }
        switch try await fetchAnalytics(target, from: plan.from, to: yesterday, revenue: plan.revenue) {
        case .fetched(let channel, let videos): try await analytics.record(channelID: target.channelID, channel: channel, videos: videos)
        case .noQuota: logger.info("the account's Analytics quota is spent for today; analytics wait for the next sync")
        case .refused, .disconnected: break
        }
    }

    /// What one Analytics fetch came to.
    enum AnalyticsFetch {
        case fetched(channel: [AnalyticsDay], videos: [String: [AnalyticsDay]])
        /// The account's Analytics quota has no room today.
        case noQuota
        /// Google refused the scopes (remembered on the account).
        case refused
        /// The account is gone or its grant was revoked.
        case disconnected
    }

    /// The channel's and its newest 50 published videos' days from `from` to `to`, their units
    /// taken from the account's Analytics quota first. A refused monetary scope is remembered
    /// and the figures fetched again without revenue. Google's `quotaExceeded` (a 403 too) is
    /// not a refusal: the account's Analytics quota counts as spent until the reset and its
    /// grant stays as it was.
    func fetchAnalytics(_ target: SyncTarget, from: String, to: String, revenue wanted: Bool) async throws -> AnalyticsFetch {
        do {
            return try await fetchAnalyticsCharged(target, from: from, to: to, revenue: wanted)
        } catch let error as YouTubeError where error.kind == .quotaExceeded {
            try await analytics.exhaust(accountID: target.accountID, now: now())
            return .noQuota
        }
    }

    private func fetchAnalyticsCharged(_ target: SyncTarget, from: String, to: String, revenue wanted: Bool) async throws -> AnalyticsFetch {
        let videos = Array(target.videos.suffix(50))
        guard try await analytics.charge(accountID: target.accountID, units: 1 + videos.count, now: now()) else { return .noQuota }
        var revenue = wanted
        let fetched = try await tokens.withToken(target.accountID) { token -> AnalyticsFetch in
            func report(_ videoID: String?) async throws -> [AnalyticsDay] {
                let metrics = AnalyticsQuery.dashboardMetrics.filter { revenue || $0 != "estimatedRevenue" }
                let query = AnalyticsQuery(startDate: from, endDate: to, metrics: metrics, dimension: .day, videoIDs: videoID.map { [$0] })
                return AnalyticsDay.rows(of: try await gateway.analyticsReport(query, accessToken: token))
            }
            let channel: [AnalyticsDay]
            do {
                channel = try await report(nil)
            } catch let error as YouTubeError where error.refusesScopes && revenue && !error.message.contains("insufficient") {
                try await analytics.markRefused(accountID: target.accountID, revenueOnly: true)
                revenue = false
                // The report again without revenue: one more unit.
                guard try await analytics.charge(accountID: target.accountID, units: 1, now: now()) else { return .noQuota }
                channel = try await report(nil)
            } catch let error as YouTubeError where error.refusesScopes {
                try await analytics.markRefused(accountID: target.accountID, revenueOnly: false)
                return .refused
            }
            var byVideo: [String: [AnalyticsDay]] = [:]
            for video in videos { byVideo[video.id] = try await report(video.youtubeID) }
            return .fetched(channel: channel, videos: byVideo)
        }
        return fetched ?? .disconnected
    }
}

private extension YouTubeError {
    /// A 403 that refuses the call's scopes, not one that reports a spent quota.
    var refusesScopes: Bool { status == 403 && kind != .quotaExceeded }
}
