import Foundation
import Logging
import PostgresNIO
import Queue

/// The arguments of a channel sync job.
public struct ChannelSyncArgs: Codable, Sendable, Equatable {
    public var channelID: String
    public var userID: String

    public init(channelID: String, userID: String) {
        self.channelID = channelID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey { case channelID = "channel_id", userID = "user_id" }

    public static let kind = "channel.sync"
    /// The periodic sweep that queues due syncs (`ChannelStats.syncSchedule`).
    public static let dueKind = "channel.sync.due"
}

/// What a sync reads from YouTube: the channel's account and its published videos.
public struct SyncTarget: Sendable {
    public var channelID: String
    public var accountID: String
    /// Video id → YouTube video id.
    public var videos: [(id: String, youtubeID: String)]
}

/// One day's figures.
public struct ChannelDay: Sendable, Equatable {
    public var date: String
    public var subscribers: Int64
    public var views: Int64
    public var videoCount: Int64
}

public struct VideoDay: Sendable, Equatable {
    public var date: String
    public var views: Int64
    public var likes: Int64
    public var comments: Int64
}

/// A channel's analytics over a window, from its snapshots alone.
public struct ChannelAnalytics: Sendable {
    public var channelID: String
    public var days: Int
    public var daily: [ChannelDay]
    public var publishedVideos: Int
    public var lastSyncedAt: Date?
}

/// A channel's health and what lowered it.
public struct ChannelHealth: Sendable {
    public var channelID: String
    public var score: Int
    public var factors: [(factor: String, points: Int)]
    public var lastSyncedAt: Date?
    public var accountStatus: String?
    public var subscriberChange7d: Int64?
    public var viewChange7d: Int64?
    public var published30d: Int
    public var publishFailures30d: Int
}

/// Channel sync and the analytics computed from its daily snapshots (no invented numbers:
/// before a sync there is nothing to show, and the API says so with nulls).
public struct ChannelStats: Sendable {
    public let client: PostgresClient
    public let jobs: JobStore
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.jobs = JobStore(client: client, logger: logger)
        self.logger = logger
    }

    /// Queues a sync of the user's channel (one waiting sync per channel at a time).
    /// - Throws: `notFound` for another user's channel; `invalidState` when the channel is not
    ///   linked to a connected, active YouTube account.
    /// - Returns: the sync job's id.
    public func requestSync(channelID: String, userID: String) async throws -> Int64 {
        let rows = try await client.query("""
            SELECT c.youtube_channel_id, a.status FROM channels c
              LEFT JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id
             WHERE c.id = \(channelID) AND c.user_id = \(userID)
            """, logger: logger)
        var found: (linked: String?, status: String?)?
        for try await row in rows.decode((String?, String?).self) { found = row }
        guard let found else { throw DomainError(.notFound, "No channel \(channelID)") }
        let status = try found.status.map { try DatabaseValue.decode($0, column: "youtube_accounts.status", as: YouTubeAccountStatus.self) }
        guard found.linked != nil, status == .active else {
            throw DomainError(.invalidState, found.linked == nil
                ? "Set the channel's youtube_channel_id to a connected YouTube account's channel first"
                : "The channel's YouTube account is not connected or needs reconnecting")
        }
        // One waiting sync per channel: a request while one is unfinished gets that one.
        let job = try NewJob(kind: ChannelSyncArgs.kind, encoding: ChannelSyncArgs(channelID: channelID, userID: userID), maxAttempts: 5,
                             uniqueKey: "channel.sync:\(channelID)", uniqueStates: NewJob.unfinishedStates, owner: userID)
        return try await jobs.insert(job).id
    }

    /// The periodic job that keeps channel statistics fresh: every 30 minutes, a sync for every
    /// channel linked to an active account and not synced for a day (`requestDueSyncs`).
    public static let syncSchedule = PeriodicJob(id: "channel-syncs", kind: ChannelSyncArgs.dueKind, maxAttempts: 3,
                                                 schedule: .every(.seconds(1800)), catchUp: true)

    /// Queues a sync for every channel linked to an active YouTube account and not synced for
    /// `age` (at most `limit`, the stalest first; a channel whose sync waits keeps that one).
    /// - Returns: how many channels were due.
    @discardableResult
    public func requestDueSyncs(age: Duration = .seconds(86_400), limit: Int = 500) async throws -> Int {
        let rows = try await client.query("""
            SELECT c.id, c.user_id FROM channels c
              JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id AND a.status = 'active'
             WHERE c.last_synced_at IS NULL OR c.last_synced_at < now() - make_interval(secs => \(Double(age.components.seconds)))
             ORDER BY c.last_synced_at NULLS FIRST LIMIT \(Int32(clamping: limit))
            """, logger: logger)
        var due: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { due.append(row) }
        for (channelID, userID) in due { _ = try await requestSync(channelID: channelID, userID: userID) }
        return due.count
    }

    /// The channel's account and published videos, or nil when it can no longer be synced.
    public func target(channelID: String) async throws -> SyncTarget? {
        let rows = try await client.query("""
            SELECT a.id, coalesce(array_agg(v.id ORDER BY v.id) FILTER (WHERE v.id IS NOT NULL), '{}'),
                   coalesce(array_agg(v.youtube_video_id ORDER BY v.id) FILTER (WHERE v.id IS NOT NULL), '{}')
              FROM channels c
              JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id AND a.status = 'active'
              LEFT JOIN videos v ON v.channel_id = c.id AND v.status = 'published' AND v.youtube_video_id IS NOT NULL
             WHERE c.id = \(channelID)
             GROUP BY a.id
            """, logger: logger)
        for try await (accountID, ids, youtubeIDs) in rows.decode((String, [String], [String]).self) {
            return SyncTarget(channelID: channelID, accountID: accountID, videos: Array(zip(ids, youtubeIDs)).map { ($0.0, $0.1) })
        }
        return nil
    }

    /// Writes today's snapshots (a later sync the same day replaces them) and refreshes the
    /// channel's figures and health.
    public func record(channelID: String, channel: YouTubeChannelInfo, videos: [String: YouTubeVideoStats], now: Date = Date()) async throws {
        let day = QuotaDay.of(now)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                INSERT INTO channel_snapshots (channel_id, day, subscribers, views, video_count)
                VALUES (\(channelID), \(day)::date, \(channel.subscribers), \(channel.views), \(channel.videoCount))
                ON CONFLICT (channel_id, day) DO UPDATE SET subscribers = excluded.subscribers, views = excluded.views,
                       video_count = excluded.video_count, taken_at = now()
                """, logger: logger)
            let ids = Array(videos.keys).sorted()
            let stats = ids.compactMap { videos[$0] }
            try await connection.query("""
                INSERT INTO video_snapshots (video_id, day, views, likes, comments)
                SELECT id, \(day)::date, views, likes, comments
                  FROM unnest(\(ids)::text[], \(stats.map(\.views))::int8[], \(stats.map(\.likes))::int8[], \(stats.map(\.comments))::int8[])
                       AS s(id, views, likes, comments)
                ON CONFLICT (video_id, day) DO UPDATE SET views = excluded.views, likes = excluded.likes, comments = excluded.comments,
                       taken_at = now()
                """, logger: logger)
            // Monthly views: the growth since the snapshot closest to 30 days ago (all views before that).
            try await connection.query("""
                UPDATE channels c SET subscribers = \(channel.subscribers), last_synced_at = now(), updated_at = now(),
                       monthly_views = \(channel.views) - coalesce((SELECT s.views FROM channel_snapshots s WHERE s.channel_id = c.id
                                                                    AND s.day <= \(day)::date - 30 ORDER BY s.day DESC LIMIT 1), 0)
                 WHERE c.id = \(channelID)
                """, logger: logger)
        }
        if let health = try await health(channelID: channelID, userID: nil, now: now) {
            try await client.query("UPDATE channels SET health_score = \(Int32(health.score)) WHERE id = \(channelID)", logger: logger)
        }
    }

    /// The channel's snapshots of the last `days` days, or nil when it is not the user's.
    public func analytics(channelID: String, userID: String, days: Int) async throws -> ChannelAnalytics? {
        let rows = try await client.query("""
            SELECT c.last_synced_at, (SELECT count(*) FROM videos v WHERE v.channel_id = c.id AND v.status = 'published'),
                   coalesce((SELECT array_agg(s.day::text ORDER BY s.day) FROM channel_snapshots s
                              WHERE s.channel_id = c.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.subscribers ORDER BY s.day) FROM channel_snapshots s
                              WHERE s.channel_id = c.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.views ORDER BY s.day) FROM channel_snapshots s
                              WHERE s.channel_id = c.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.video_count ORDER BY s.day) FROM channel_snapshots s
                              WHERE s.channel_id = c.id AND s.day > current_date - \(Int32(days))), '{}')
              FROM channels c WHERE c.id = \(channelID) AND c.user_id = \(userID)
            """, logger: logger)
        for try await (synced, published, dates, subscribers, views, counts) in rows.decode((Date?, Int64, [String], [Int64], [Int64], [Int64]).self) {
            let daily = dates.indices.map { ChannelDay(date: dates[$0], subscribers: subscribers[$0], views: views[$0], videoCount: counts[$0]) }
            return ChannelAnalytics(channelID: channelID, days: days, daily: daily, publishedVideos: Int(published), lastSyncedAt: synced)
        }
        return nil
    }

    /// A published video's snapshots, or nil when it is not the user's.
    public func videoAnalytics(videoID: String, userID: String, days: Int) async throws -> (youtubeID: String?, daily: [VideoDay], lastSyncedAt: Date?)? {
        let rows = try await client.query("""
            SELECT v.youtube_video_id, (SELECT max(s.taken_at) FROM video_snapshots s WHERE s.video_id = v.id),
                   coalesce((SELECT array_agg(s.day::text ORDER BY s.day) FROM video_snapshots s WHERE s.video_id = v.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.views ORDER BY s.day) FROM video_snapshots s WHERE s.video_id = v.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.likes ORDER BY s.day) FROM video_snapshots s WHERE s.video_id = v.id AND s.day > current_date - \(Int32(days))), '{}'),
                   coalesce((SELECT array_agg(s.comments ORDER BY s.day) FROM video_snapshots s WHERE s.video_id = v.id AND s.day > current_date - \(Int32(days))), '{}')
              FROM videos v WHERE v.id = \(videoID) AND v.user_id = \(userID)
            """, logger: logger)
        for try await (youtubeID, synced, dates, views, likes, comments) in rows.decode((String?, Date?, [String], [Int64], [Int64], [Int64]).self) {
            let daily = dates.indices.map { VideoDay(date: dates[$0], views: views[$0], likes: likes[$0], comments: comments[$0]) }
            return (youtubeID, daily, synced)
        }
        return nil
    }

    /// Health from measurable facts: sync freshness, the linked account, the audience trend
    /// over 7 days and publishing failures over 30.
    /// - Parameter userID: the owner to check, or nil inside the fleet.
    public func health(channelID: String, userID: String?, now: Date = Date()) async throws -> ChannelHealth? {
        let rows = try await client.query("""
            SELECT c.last_synced_at, c.youtube_channel_id IS NOT NULL, a.status,
                   (SELECT s.subscribers - o.subscribers FROM channel_snapshots s, channel_snapshots o
                     WHERE s.channel_id = c.id AND o.channel_id = c.id
                       AND s.day = (SELECT max(day) FROM channel_snapshots WHERE channel_id = c.id)
                       AND o.day = (SELECT min(day) FROM channel_snapshots WHERE channel_id = c.id AND day >= current_date - 7)),
                   (SELECT s.views - o.views FROM channel_snapshots s, channel_snapshots o
                     WHERE s.channel_id = c.id AND o.channel_id = c.id
                       AND s.day = (SELECT max(day) FROM channel_snapshots WHERE channel_id = c.id)
                       AND o.day = (SELECT min(day) FROM channel_snapshots WHERE channel_id = c.id AND day >= current_date - 7)),
                   (SELECT count(*) FROM publications p JOIN videos v ON v.id = p.video_id
                     WHERE v.channel_id = c.id AND p.status = 'published' AND p.published_at > now() - interval '30 days'),
                   (SELECT count(*) FROM publications p JOIN videos v ON v.id = p.video_id
                     WHERE v.channel_id = c.id AND p.status = 'failed' AND p.updated_at > now() - interval '30 days')
              FROM channels c
              LEFT JOIN youtube_accounts a ON a.user_id = c.user_id AND a.youtube_channel_id = c.youtube_channel_id
             WHERE c.id = \(channelID) AND (\(userID)::text IS NULL OR c.user_id = \(userID))
            """, logger: logger)
        for try await (synced, linked, accountStatus, subscriberChange, viewChange, published, failures)
            in rows.decode((Date?, Bool, String?, Int64?, Int64?, Int64, Int64).self) {
            var factors: [(String, Int)] = []
            if let synced {
                if now.timeIntervalSince(synced) > 2 * 86_400 { factors.append(("statistics older than two days", 15)) }
            } else {
                factors.append(("never synced", 20))
            }
            if !linked {
                factors.append(("not linked to a YouTube channel", 20))
            } else if accountStatus == nil {
                factors.append(("its YouTube account is not connected", 20))
            } else if accountStatus == "auth_expired" {
                factors.append(("its YouTube account needs reconnecting", 30))
            }
            if let subscriberChange, subscriberChange < 0 { factors.append(("losing subscribers this week", 10)) }
            if failures > 0 { factors.append(("\(failures) failed publications in 30 days", min(30, Int(failures) * 5))) }
            let score = max(0, 100 - factors.reduce(0) { $0 + $1.1 })
            return ChannelHealth(channelID: channelID, score: score, factors: factors.map { (factor: $0.0, points: $0.1) }, lastSyncedAt: synced,
                                 accountStatus: accountStatus, subscriberChange7d: subscriberChange, viewChange7d: viewChange,
                                 published30d: Int(published), publishFailures30d: Int(failures))
        }
        return nil
    }
}
