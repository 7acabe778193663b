import Foundation
import Logging
import PostgresNIO
import Queue

/// One day's figures of a channel or a video, as YouTube Analytics gave them.
public struct AnalyticsDay: Sendable, Equatable {
    public var day: String
    public var views: Int64
    public var minutesWatched: Int64
    public var averageViewDuration: Int64
    public var likes: Int64
    public var comments: Int64
    public var shares: Int64
    public var subscribersGained: Int64
    public var subscribersLost: Int64
    /// Nil without the monetary scope.
    public var revenue: Money?

    public init(day: String, views: Int64, minutesWatched: Int64, averageViewDuration: Int64, likes: Int64, comments: Int64, shares: Int64,
                subscribersGained: Int64, subscribersLost: Int64, revenue: Money?) {
        self.day = day
        self.views = views
        self.minutesWatched = minutesWatched
        self.averageViewDuration = averageViewDuration
        self.likes = likes
        self.comments = comments
        self.shares = shares
        self.subscribersGained = subscribersGained
        self.subscribersLost = subscribersLost
        self.revenue = revenue
    }

    /// A `day`-dimension report's rows; rows without a day or views are skipped.
    public static func rows(of table: AnalyticsTable) -> [AnalyticsDay] {
        table.records.compactMap { record in
            guard let day = record["day"]?.text, day.utf8.count == 10, let views = record["views"]?.number else { return nil }
            let count = { (name: String) in Int64(max(0, min(record[name]?.number ?? 0, 1e15))) }
            return AnalyticsDay(day: day, views: Int64(max(0, min(views, 1e15))), minutesWatched: count("estimatedMinutesWatched"),
                                averageViewDuration: count("averageViewDuration"), likes: count("likes"), comments: count("comments"),
                                shares: count("shares"), subscribersGained: count("subscribersGained"), subscribersLost: count("subscribersLost"),
                                revenue: record["estimatedRevenue"]?.number.map { Money(dollars: max(0, $0)) })
        }
    }
}

/// The Analytics API's side of a channel sync: its own daily quota per account, and the rows it
/// writes (a day synced again replaces the stored one).
public struct AnalyticsStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// What the account's Analytics sync needs: whether Google granted the scopes, and the
    /// first day to fetch (the last stored day less 3, which YouTube may still revise; the last
    /// 3 days the first time: the 90 days before are the backfill's), and whether the channel's
    /// backfill is done.
    public func plan(accountID: String, channelID: String, today: String) async throws
        -> (granted: Bool, revenue: Bool, from: String, backfilled: Bool)? {
        let rows = try await client.query("""
            SELECT a.analytics_granted, a.revenue_granted,
                   to_char(coalesce((SELECT max(day) - 3 FROM channel_analytics_daily WHERE channel_id = \(channelID)), \(today)::date - 3),
                           'YYYY-MM-DD'),
                   EXISTS (SELECT 1 FROM analytics_backfills b WHERE b.channel_id = \(channelID) AND b.status = 'completed')
              FROM youtube_accounts a WHERE a.id = \(accountID)
            """, logger: logger)
        for try await row in rows.decode((Bool, Bool, String, Bool).self) { return row }
        return nil
    }

    /// Takes `units` of the account's Analytics quota for the Pacific day of `now`.
    /// - Returns: false when today's Analytics quota has no room.
    public func charge(accountID: String, units: Int, now: Date) async throws -> Bool {
        let day = QuotaDay.of(now)
        let rows = try await client.query("""
            UPDATE youtube_accounts
               SET analytics_quota_used = CASE WHEN analytics_quota_day = \(day)::date THEN analytics_quota_used ELSE 0 END + \(Int32(clamping: units)),
                   analytics_quota_day = \(day)::date
             WHERE id = \(accountID)
               AND CASE WHEN analytics_quota_day = \(day)::date THEN analytics_quota_used ELSE 0 END + \(Int32(clamping: units)) <= analytics_quota_limit
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Records that Google answered `quotaExceeded` for the account's Analytics calls: its
    /// Analytics quota counts as spent until the next quota day, so no call is made before.
    public func exhaust(accountID: String, now: Date) async throws {
        let day = QuotaDay.of(now)
        try await client.query("""
            UPDATE youtube_accounts SET analytics_quota_used = analytics_quota_limit, analytics_quota_day = \(day)::date WHERE id = \(accountID)
            """, logger: logger)
    }

    /// Records that Google refused the analytics scopes (or only the monetary one).
    public func markRefused(accountID: String, revenueOnly: Bool) async throws {
        try await client.query("""
            UPDATE youtube_accounts SET revenue_granted = false, analytics_granted = analytics_granted AND \(revenueOnly) WHERE id = \(accountID)
            """, logger: logger)
    }

    /// Stores a channel's days and its videos' days, replacing any stored for the same days.
    public func record(channelID: String, channel: [AnalyticsDay], videos: [String: [AnalyticsDay]]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await Self.record(channelID: channelID, channel: channel, videos: videos, on: connection, logger: logger)
        }
    }

    /// `record` inside the caller's transaction.
    /// Listeners (the account sockets of the channel's owner) hear `analytics.update` on commit.
    static func record(channelID: String, channel: [AnalyticsDay], videos: [String: [AnalyticsDay]], on connection: PostgresConnection,
                       logger: Logger) async throws {
        try await DomainEvents.publishAnalytics(channelID: channelID, on: connection, logger: logger)
        if !channel.isEmpty {
            let d = Columns(channel)
            try await connection.query("""
                INSERT INTO channel_analytics_daily (channel_id, day, views, minutes_watched, average_view_duration, likes, comments, shares,
                                                     subscribers_gained, subscribers_lost, revenue, synced_at)
                SELECT \(channelID), d::date, v, m, a, l, c, s, g, x, nullif(r, -1), now()
                  FROM unnest(\(d.days)::text[], \(d.views)::int8[], \(d.minutes)::int8[], \(d.durations)::int4[], \(d.likes)::int8[],
                              \(d.comments)::int8[], \(d.shares)::int8[], \(d.gained)::int8[], \(d.lost)::int8[], \(d.revenue)::int8[])
                       AS t(d, v, m, a, l, c, s, g, x, r)
                ON CONFLICT (channel_id, day) DO UPDATE SET
                    views = excluded.views, minutes_watched = excluded.minutes_watched, average_view_duration = excluded.average_view_duration,
                    likes = excluded.likes, comments = excluded.comments, shares = excluded.shares,
                    subscribers_gained = excluded.subscribers_gained, subscribers_lost = excluded.subscribers_lost,
                    revenue = excluded.revenue, synced_at = excluded.synced_at
                """, logger: logger)
        }
        for (videoID, days) in videos.sorted(by: { $0.key < $1.key }) where !days.isEmpty {
            let d = Columns(days)
            try await connection.query("""
                INSERT INTO video_analytics_daily (video_id, channel_id, day, views, minutes_watched, average_view_duration, likes, comments,
                                                   shares, subscribers_gained, subscribers_lost, revenue, synced_at)
                SELECT \(videoID), \(channelID), d::date, v, m, a, l, c, s, g, x, nullif(r, -1), now()
                  FROM unnest(\(d.days)::text[], \(d.views)::int8[], \(d.minutes)::int8[], \(d.durations)::int4[], \(d.likes)::int8[],
                              \(d.comments)::int8[], \(d.shares)::int8[], \(d.gained)::int8[], \(d.lost)::int8[], \(d.revenue)::int8[])
                       AS t(d, v, m, a, l, c, s, g, x, r)
                ON CONFLICT (video_id, day) DO UPDATE SET
                    views = excluded.views, minutes_watched = excluded.minutes_watched, average_view_duration = excluded.average_view_duration,
                    likes = excluded.likes, comments = excluded.comments, shares = excluded.shares,
                    subscribers_gained = excluded.subscribers_gained, subscribers_lost = excluded.subscribers_lost,
                    revenue = excluded.revenue, synced_at = excluded.synced_at
                """, logger: logger)
        }
    }

    /// Days as column arrays, for one `unnest` insert.
    private struct Columns {
        var days: [String], views: [Int64], minutes: [Int64], durations: [Int32], likes: [Int64], comments: [Int64], shares: [Int64]
        var gained: [Int64], lost: [Int64]
        /// Micros, or -1 for none (arrays of optionals do not bind).
        var revenue: [Int64]

        init(_ rows: [AnalyticsDay]) {
            days = rows.map(\.day)
            views = rows.map(\.views)
            minutes = rows.map(\.minutesWatched)
            durations = rows.map { Int32(clamping: $0.averageViewDuration) }
            likes = rows.map(\.likes)
            comments = rows.map(\.comments)
            shares = rows.map(\.shares)
            gained = rows.map(\.subscribersGained)
            lost = rows.map(\.subscribersLost)
            revenue = rows.map { $0.revenue?.micros ?? -1 }
        }
    }
}

/// The analytics overview of a user's channels over the last `days` days up to yesterday.
public struct AnalyticsOverview: Sendable, Equatable, Codable {
    public struct TopVideo: Sendable, Equatable, Codable {
        public var videoID: String
        public var title: String
        public var youtubeVideoID: String?
        public var views: Int64
        public var revenue: Money
        public var engagement: Double
    }

    public struct ChannelPerformance: Sendable, Equatable, Codable {
        public var channelID: String
        public var name: String
        public var views: Int64
        public var revenue: Money
        public var subscribersGained: Int64
        public var videosPublished: Int64
        public var cost: Money
        /// Revenue over cost; nil when nothing was spent.
        public var returnOnCost: Double? { cost.micros > 0 ? Double(revenue.micros) / Double(cost.micros) : nil }
    }

    public var from: String
    public var to: String
    public var totalViews: Int64
    public var totalRevenue: Money
    public var averageViewDuration: Int64
    public var engagementRate: Double
    public var subscriberGrowth: Int64
    public var topVideos: [TopVideo]
    public var channels: [ChannelPerformance]
}

/// The overview's headline figures (its `metrics`): what the live `analytics.update` carries.
public struct AnalyticsHeadline: Sendable, Equatable {
    public var from: String
    public var to: String
    public var totalViews: Int64
    public var totalRevenue: Money
    public var averageViewDuration: Int64
    public var engagementRate: Double
    public var subscriberGrowth: Int64
}

extension AnalyticsStore {
    /// The user's headline figures over `days` days ending yesterday (Pacific): one query.
    public func headline(userID: String, days: Int, now: Date = Date()) async throws -> AnalyticsHeadline {
        let (from, to) = Self.period(days: days, now: now)
        let total = try await figures(userID: userID, from: from, to: to, grouping: .total).first ?? .empty
        return AnalyticsHeadline(from: from, to: to, totalViews: total.views, totalRevenue: total.revenue ?? .zero,
                                 averageViewDuration: total.averageViewDuration,
                                 engagementRate: total.perThousand(total.likes + total.comments + total.shares) / 1000,
                                 subscriberGrowth: total.subscriberGrowth)
    }

    /// The user's figures over `days` days ending yesterday (Pacific), from the stored rows:
    /// computed once per change of those rows (`analytics_versions`, bumped by triggers on
    /// every table it reads) and served from `analytics_overview_cache` while they stay as
    /// they were.
    public func overview(userID: String, days: Int, now: Date = Date()) async throws -> AnalyticsOverview {
        let to = Self.period(days: days, now: now).to
        let cached = try await client.query("""
            SELECT coalesce(v.version, 0), c.body::text
              FROM (SELECT 1) one
              LEFT JOIN analytics_versions v ON v.user_id = \(userID)
              LEFT JOIN analytics_overview_cache c ON c.user_id = \(userID) AND c.days = \(Int32(clamping: days)) AND c.to_day = \(to)::date
                                                  AND c.version = coalesce(v.version, 0)
            """, logger: logger)
        var version: Int64 = 0
        for try await (current, body) in cached.decode((Int64, String?).self) {
            version = current
            if let body, let overview = try? JSONDecoder().decode(AnalyticsOverview.self, from: Data(body.utf8)) { return overview }
        }
        // Computed from the facts as of `version` or later: a change meanwhile bumps the
        // version past the stored one, and the next request computes again.
        let overview = try await computeOverview(userID: userID, days: days, now: now)
        let body = String(decoding: try JSONEncoder().encode(overview), as: UTF8.self)
        try await client.query("""
            INSERT INTO analytics_overview_cache (user_id, days, to_day, version, body)
            SELECT \(userID), \(Int32(clamping: days)), \(to)::date, \(version), \(body)::jsonb WHERE EXISTS (SELECT 1 FROM users WHERE id = \(userID))
            ON CONFLICT (user_id, days) DO UPDATE SET to_day = excluded.to_day, version = excluded.version, body = excluded.body,
                   computed_at = now()
             WHERE (analytics_overview_cache.to_day, analytics_overview_cache.version) <= (excluded.to_day, excluded.version)
            """, logger: logger)
        return overview
    }

    /// The overview computed from the stored rows (three statements).
    func computeOverview(userID: String, days: Int, now: Date) async throws -> AnalyticsOverview {
        let headline = try await headline(userID: userID, days: days, now: now)
        var overview = AnalyticsOverview(from: headline.from, to: headline.to, totalViews: headline.totalViews, totalRevenue: headline.totalRevenue,
                                         averageViewDuration: headline.averageViewDuration, engagementRate: headline.engagementRate,
                                         subscriberGrowth: headline.subscriberGrowth, topVideos: [], channels: [])
        // The window's days of the user's channels' videos, read from the covering index by
        // channel and day, summed per video; only the 10 largest are joined to their videos.
        let top = try await client.query("""
            WITH top AS (
                SELECT d.video_id, sum(d.views)::int8 AS views, coalesce(sum(d.revenue), 0)::int8 AS revenue,
                       sum(d.likes + d.comments + d.shares)::int8 AS engaged
                  FROM video_analytics_daily d
                 WHERE d.channel_id = ANY(ARRAY(SELECT id FROM channels WHERE user_id = \(userID)))
                   AND d.day BETWEEN \(overview.from)::date AND \(overview.to)::date
                 GROUP BY d.video_id ORDER BY 2 DESC, 1 LIMIT 10)
            SELECT v.id, v.title, v.youtube_video_id, top.views, top.revenue, top.engaged
              FROM top JOIN videos v ON v.id = top.video_id AND v.user_id = \(userID)
             ORDER BY top.views DESC, v.id
            """, logger: logger)
        for try await (id, title, youtubeID, views, revenue, engaged) in top.decode((String, String, String?, Int64, Int64, Int64).self) {
            overview.topVideos.append(.init(videoID: id, title: title, youtubeVideoID: youtubeID, views: views, revenue: Money(micros: revenue),
                                            engagement: views > 0 ? Double(engaged) / Double(views) : 0))
        }
        // Per channel, each source summed once over the window: analytics days, publications
        // (by Pacific day, as YouTube counts), and the ledger's spend on the channel's videos.
        let channels = try await client.query("""
            WITH ch AS (SELECT id, name, created_at FROM channels WHERE user_id = \(userID)),
                 a AS (SELECT d.channel_id, sum(d.views) AS views, sum(d.revenue) AS revenue, sum(d.subscribers_gained) AS gained
                         FROM channel_analytics_daily d
                        WHERE d.channel_id = ANY(ARRAY(SELECT id FROM ch)) AND d.day BETWEEN \(overview.from)::date AND \(overview.to)::date
                        GROUP BY 1),
                 p AS (SELECT v.channel_id, count(*) AS published
                         FROM publications p JOIN videos v ON v.id = p.video_id
                        WHERE p.user_id = \(userID) AND p.status = 'published'
                          AND p.published_at >= \(overview.from)::date::timestamp AT TIME ZONE 'America/Los_Angeles'
                          AND p.published_at < (\(overview.to)::date + 1)::timestamp AT TIME ZONE 'America/Los_Angeles'
                        GROUP BY 1),
                 c AS (SELECT v.channel_id, sum(l.amount) AS cost
                         FROM cost_ledger l JOIN videos v ON v.id = l.video_id
                        WHERE l.user_id = \(userID) AND l.day BETWEEN \(overview.from)::date AND \(overview.to)::date
                        GROUP BY 1)
            SELECT ch.id, ch.name, coalesce(a.views, 0)::int8, coalesce(a.revenue, 0)::int8, coalesce(a.gained, 0)::int8,
                   coalesce(p.published, 0)::int8, coalesce(c.cost, 0)::int8
              FROM ch LEFT JOIN a ON a.channel_id = ch.id LEFT JOIN p ON p.channel_id = ch.id LEFT JOIN c ON c.channel_id = ch.id
             ORDER BY ch.created_at, ch.id
            """, logger: logger)
        for try await (id, name, views, revenue, gained, published, cost) in channels.decode((String, String, Int64, Int64, Int64, Int64, Int64).self) {
            overview.channels.append(.init(channelID: id, name: name, views: views, revenue: Money(micros: revenue), subscribersGained: gained,
                                           videosPublished: published, cost: Money(micros: cost)))
        }
        return overview
    }
}
