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
    public let allocator: QuotaAllocator
    let tokens: AccountTokens
    public let now: @Sendable () -> Date

    public init(client: PostgresClient, gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.gateway = gateway
        self.stats = ChannelStats(client: client, logger: logger)
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
        return .completed
    }
}
