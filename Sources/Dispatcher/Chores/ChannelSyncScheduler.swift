import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that keeps channel statistics fresh: a sync for every channel linked
/// to an active YouTube account and not synced for `age`.
public struct ChannelSyncScheduler: MaintenanceTask {
    public let stats: ChannelStats
    public let age: Duration
    public let interval: Duration
    public var name: String { "channel-sync-scheduler" }

    public init(stats: ChannelStats, age: Duration = .seconds(86_400), interval: Duration = .seconds(1800)) {
        self.stats = stats
        self.age = age
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        let rows = try await stats.client.query("""
            SELECT c.id, c.user_id FROM channels c
              JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id AND a.status = 'active'
             WHERE c.last_synced_at IS NULL OR c.last_synced_at < now() - make_interval(secs => \(age.seconds))
             ORDER BY c.last_synced_at NULLS FIRST LIMIT 500
            """, logger: stats.logger)
        var due: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { due.append(row) }
        for (channelID, userID) in due { _ = try await stats.requestSync(channelID: channelID, userID: userID) }
        return due.count
    }
}
