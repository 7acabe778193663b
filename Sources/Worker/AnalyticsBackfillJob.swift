import Domain
import Foundation
import Logging
import Queue

/// `analytics.backfill`: a channel's last 90 days of YouTube Analytics, a window at a time, each
/// window stored with the progress in one transaction (a backfill cut short resumes at its
/// next window). Without Analytics quota it waits for the reset; without the scopes it fails
/// with the reason, and connecting the account again starts it over.
extension ChannelSyncJobs {
    func backfill(_ context: JobContext) async throws -> JobResult {
        let args = try context.args(AnalyticsBackfillArgs.self)
        guard let target = try await stats.target(channelID: args.channelID) else {
            try await backfills.finish(channelID: args.channelID, failure: "The channel's YouTube account is not connected; connect it again")
            return .cancel("the channel is gone or not linked to an active YouTube account")
        }
        while true {
            guard let backfill = try await backfills.backfill(channelID: args.channelID), backfill.status != .completed else { return .completed }
            guard let window = backfill.nextWindow(days: AnalyticsBackfills.windowDays) else {
                try await backfills.finish(channelID: args.channelID)
                return .completed
            }
            guard let plan = try await analytics.plan(accountID: target.accountID, channelID: target.channelID, today: QuotaDay.of(now())),
                  plan.granted
            else {
                try await backfills.finish(channelID: args.channelID, failure: Self.reconnect)
                return .cancel("the account did not grant YouTube Analytics")
            }
            switch try await fetchAnalytics(target, from: window.from, to: window.to, revenue: plan.revenue) {
            case .fetched(let channel, let videos):
                try await backfills.record(channelID: args.channelID, window: window, channel: channel, videos: videos)
                context.logger.info("analytics backfill", metadata: ["channel.id": "\(args.channelID)", "window": "\(window.from)…\(window.to)"])
            case .noQuota:
                let wait = max(1, QuotaDay.nextReset(after: now()).timeIntervalSince(now())) + Double.random(in: 0..<30)
                return .snooze(.milliseconds(Int64(wait * 1000)))
            case .refused:
                try await backfills.finish(channelID: args.channelID, failure: Self.reconnect)
                return .cancel("Google refused the YouTube Analytics scopes")
            case .disconnected:
                try await backfills.finish(channelID: args.channelID, failure: "The channel's YouTube account needs reconnecting")
                return .cancel("the channel's YouTube account needs reconnecting")
            }
        }
    }

    static let reconnect = "The YouTube account did not grant YouTube Analytics; connect it again and allow access to analytics"
}
