import Foundation
import Logging
import PostgresNIO
import Queue

/// Sums of stored analytics days over a period, for one key: the whole period, a day, a
/// channel or a video.
public struct AnalyticsFigures: Sendable, Equatable {
    /// How the rows are grouped.
    public enum Grouping: Sendable {
        case total, day, channel, video
    }

    /// The day, channel id or video id; nil for the total.
    public var key: String?
    /// The channel's name or the video's title.
    public var name: String?
    public var views: Int64
    public var likes: Int64
    public var comments: Int64
    public var shares: Int64
    /// Subscribers gained less lost.
    public var subscriberGrowth: Int64 = 0
    /// Seconds watched, from each day's average duration times its views.
    public var secondsWatched: Double
    /// Micros; nil when no day in the group had revenue.
    public var revenue: Money?
    /// A video's length in seconds, when it is one of ours with a rendered file.
    public var lengthSeconds: Double?

    public init(key: String?, name: String?, views: Int64, likes: Int64, comments: Int64, shares: Int64, secondsWatched: Double,
                revenue: Money?, lengthSeconds: Double?) {
        self.key = key
        self.name = name
        self.views = views
        self.likes = likes
        self.comments = comments
        self.shares = shares
        self.secondsWatched = secondsWatched
        self.revenue = revenue
        self.lengthSeconds = lengthSeconds
    }

    /// Nothing stored for the period.
    public static let empty = AnalyticsFigures(key: nil, name: nil, views: 0, likes: 0, comments: 0, shares: 0, secondsWatched: 0,
                                               revenue: nil, lengthSeconds: nil)

    public var averageViewDuration: Int64 { views > 0 ? Int64(clamping: Int(exactly: (secondsWatched / Double(views)).rounded()) ?? 0) : 0 }
    public func perThousand(_ count: Int64) -> Double { views > 0 ? Double(count) * 1000 / Double(views) : 0 }
    /// Revenue per thousand views.
    public var rpm: Double { views > 0 ? Double((revenue ?? .zero).micros) / 1e6 * 1000 / Double(views) : 0 }
    /// The average view duration over the video's length, 0 to 100; nil without a length.
    public var averageViewPercentage: Double? {
        guard let lengthSeconds, lengthSeconds > 0, views > 0 else { return nil }
        return min(100, Double(averageViewDuration) / lengthSeconds * 100)
    }
}

extension AnalyticsStore {
    /// The period's bounds: `days` days ending yesterday (Pacific), as `YYYY-MM-DD`.
    public static func period(days: Int, now: Date) -> (from: String, to: String) {
        (QuotaDay.of(now, daysBefore: max(1, days)), QuotaDay.of(now, daysBefore: 1))
    }

    /// The user's stored figures from `from` to `to` (included), grouped; for videos and
    /// channels the `limit` largest by `orderByRevenue` or views.
    public func figures(userID: String, from: String, to: String, grouping: AnalyticsFigures.Grouping, orderByRevenue: Bool = false,
                        limit: Int = 1000) async throws -> [AnalyticsFigures] {
        let source: String
        let key: String
        let name: String
        let length: String
        switch grouping {
        case .video:
            source = "video_analytics_daily d JOIN videos o ON o.id = d.video_id"
            key = "o.id"
            name = "min(o.title)"
            length = "(SELECT max(a.duration_seconds) FROM artifacts a WHERE a.video_id = o.id AND a.kind = 'video')"
        case .channel:
            source = "channel_analytics_daily d JOIN channels o ON o.id = d.channel_id"
            key = "o.id"
            name = "min(o.name)"
            length = "NULL::float8"
        case .day:
            source = "channel_analytics_daily d JOIN channels o ON o.id = d.channel_id"
            key = "to_char(d.day, 'YYYY-MM-DD')"
            name = "NULL::text"
            length = "NULL::float8"
        case .total:
            source = "channel_analytics_daily d JOIN channels o ON o.id = d.channel_id"
            key = "NULL::text"
            name = "NULL::text"
            length = "NULL::float8"
        }
        let order = grouping == .day ? "1" : (orderByRevenue ? "coalesce(sum(d.revenue), 0) DESC, 1" : "sum(d.views) DESC, 1")
        let rows = try await client.query("""
            SELECT \(unescaped: key), \(unescaped: name), coalesce(sum(d.views), 0)::int8, coalesce(sum(d.likes), 0)::int8,
                   coalesce(sum(d.comments), 0)::int8, coalesce(sum(d.shares), 0)::int8,
                   coalesce(sum(d.subscribers_gained - d.subscribers_lost), 0)::int8,
                   coalesce(sum(d.views::float8 * d.average_view_duration), 0)::float8, sum(d.revenue)::int8, \(unescaped: grouping == .video ? "max(\(length))" : length)
              FROM \(unescaped: source)
             WHERE o.user_id = \(userID) AND d.day BETWEEN \(from)::date AND \(to)::date
               AND d.channel_id = ANY(ARRAY(SELECT id FROM channels WHERE user_id = \(userID)))
             GROUP BY \(unescaped: grouping == .total ? "()" : "1")
             ORDER BY \(unescaped: order)
             LIMIT \(Int32(clamping: limit))
            """, logger: logger)
        var result: [AnalyticsFigures] = []
        for try await (key, name, views, likes, comments, shares, growth, seconds, revenue, length)
            in rows.decode((String?, String?, Int64, Int64, Int64, Int64, Int64, Double, Int64?, Double?).self) {
            var figures = AnalyticsFigures(key: key, name: name, views: views, likes: likes, comments: comments, shares: shares,
                                           secondsWatched: seconds, revenue: revenue.map(Money.init(micros:)), lengthSeconds: length)
            figures.subscriberGrowth = growth
            result.append(figures)
        }
        return result
    }

    /// Whether every connected account of the user granted the monetary scope.
    public func revenueComplete(userID: String) async throws -> Bool {
        let rows = try await client.query("""
            SELECT NOT EXISTS (SELECT 1 FROM youtube_accounts WHERE user_id = \(userID) AND status = 'active' AND NOT revenue_granted)
            """, logger: logger)
        for try await complete in rows.decode(Bool.self) { return complete }
        return true
    }
}
