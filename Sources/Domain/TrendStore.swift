import Foundation
import Logging
import PostgresNIO

/// A keyword and the figures it was ranked by.
public struct TrendKeyword: Sendable, Equatable {
    public var keyword: String
    /// Distinct videos carrying it in the period.
    public var videos: Int
    /// The figure of the period and of the period before (chart: appearances on the daily
    /// charts; own videos: views).
    public var current: Int64
    public var previous: Int64
    /// `current / previous - 1`; nil when there was nothing before.
    public var growth: Double? { previous > 0 ? Double(current) / Double(previous) - 1 : nil }
}

/// A video on the latest chart.
public struct TrendingVideo: Sendable, Equatable {
    public var rank: Int
    public var youtubeVideoID: String
    public var title: String
    public var channelTitle: String
    public var views: Int64
}

/// Trends over a period and the period before it, from two sources: YouTube's most-popular
/// chart (snapshot daily) and the user's own videos' daily views.
public struct Trends: Sendable, Equatable {
    public var region: String
    public var category: String?
    public var from: String
    public var to: String
    public var previousFrom: String
    public var previousTo: String
    /// The latest chart snapshot's day, nil before the first.
    public var chartDay: String?
    public var chart: [TrendingVideo]
    public var chartKeywords: [TrendKeyword]
    /// Chart snapshots (days) in the period and in the one before, and distinct chart videos.
    public var chartSnapshots: Int
    public var previousChartSnapshots: Int
    public var chartVideos: Int
    public var ownKeywords: [TrendKeyword]
    /// The user's published videos looked at, and those with views in either period.
    public var ownVideos: Int
    public var ownVideosWithViews: Int
}

/// The most-popular chart's daily snapshots and the keyword rankings computed from them and
/// from the user's own videos. Keywords are the words of titles (lower-cased, split on
/// anything not a letter or digit, 3 characters or more, not a number or a common word) and
/// the videos' tags.
public struct TrendStore: Sendable {
    /// Charts a user may follow; asking for another forgets the least recently asked.
    public static let maximumCharts = 5
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Common English words that say nothing about a topic: never keywords.
    public static let stopwords: Set<String> = [
        "the", "and", "for", "you", "your", "with", "this", "that", "from", "are", "was", "how", "what", "why", "who", "when", "where",
        "all", "can", "our", "out", "not", "but", "has", "have", "its", "new", "now", "get", "got", "one", "top", "best", "more", "most",
        "into", "about", "just", "will", "than", "then", "they", "them", "their", "there", "here", "ever", "every", "official", "video",
        "videos", "full", "part", "episode", "vs", "amp",
    ]

    /// Remembers that the user looks at this chart (the daily sync then keeps it).
    public func follow(userID: String, region: String, category: String?) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                INSERT INTO trend_charts (user_id, region, category) VALUES (\(userID), \(region), \(category ?? ""))
                ON CONFLICT (user_id, region, category) DO UPDATE SET requested_at = now()
                """, logger: logger)
            try await connection.query("""
                DELETE FROM trend_charts WHERE user_id = \(userID) AND (region, category) NOT IN (
                    SELECT region, category FROM trend_charts WHERE user_id = \(userID)
                     ORDER BY requested_at DESC LIMIT \(Int32(Self.maximumCharts)))
                """, logger: logger)
        }
    }

    /// The user's charts asked for in the last 30 days that have no snapshot on `day`.
    public func chartsDue(userID: String, day: String) async throws -> [(region: String, category: String?)] {
        let rows = try await client.query("""
            SELECT c.region, c.category FROM trend_charts c
             WHERE c.user_id = \(userID) AND c.requested_at > now() - interval '30 days'
               AND NOT EXISTS (SELECT 1 FROM trending_videos t WHERE t.day = \(day)::date AND t.region = c.region AND t.category = c.category)
             ORDER BY c.requested_at DESC
            """, logger: logger)
        var due: [(String, String?)] = []
        for try await (region, category) in rows.decode((String, String).self) { due.append((region, category.isEmpty ? nil : category)) }
        return due
    }

    /// Claims the fetch of a chart's snapshot of `day` for 5 minutes: false when it is stored
    /// already, or another request or sync is fetching it (or it was refused within the hour).
    public func claimChart(region: String, category: String?, day: String) async throws -> Bool {
        let rows = try await client.query("""
            INSERT INTO trending_fetches (day, region, category, fetching_until)
            VALUES (\(day)::date, \(region), \(category ?? ""), now() + interval '5 minutes')
            ON CONFLICT (day, region, category) DO UPDATE SET fetching_until = excluded.fetching_until
             WHERE trending_fetches.fetching_until < now()
            RETURNING 1
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Gives a claim back: the chart may be fetched again after `retryAfter` seconds.
    public func releaseChart(region: String, category: String?, day: String, retryAfter: Int) async throws {
        try await client.query("""
            UPDATE trending_fetches SET fetching_until = now() + make_interval(secs => \(Double(retryAfter)))
             WHERE day = \(day)::date AND region = \(region) AND category = \(category ?? "")
            """, logger: logger)
    }

    /// Stores the chart as it stands on `day` (replacing any stored that day) and marks the
    /// day's fetch done.
    public func recordChart(day: String, region: String, category: String?, videos: [YouTubeChartVideo]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                DELETE FROM trending_videos WHERE day = \(day)::date AND region = \(region) AND category = \(category ?? "")
                """, logger: logger)
            try await connection.query("""
                INSERT INTO trending_fetches (day, region, category, fetching_until) VALUES (\(day)::date, \(region), \(category ?? ""), 'infinity')
                ON CONFLICT (day, region, category) DO UPDATE SET fetching_until = 'infinity'
                """, logger: logger)
            for (index, video) in videos.prefix(50).enumerated() {
                try await connection.query("""
                    INSERT INTO trending_videos (day, region, category, rank, youtube_video_id, channel_title, title, tags, views, published_at)
                    VALUES (\(day)::date, \(region), \(category ?? ""), \(Int32(index + 1)), \(video.id), \(video.channelTitle), \(video.title),
                            \(Array(video.tags.prefix(30))), \(video.views), \(video.publishedAt))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }
    }

    /// The trends of the `days` days ending `to` against the `days` days before.
    /// - Parameters:
    ///   - to: the last day of the period (the chart counts today; the user's views, which
    ///     YouTube reports up to yesterday, count from the same period shifted by a day).
    public func trends(userID: String, region: String, category: String?, days: Int, today: Date) async throws -> Trends {
        let to = QuotaDay.of(today), from = QuotaDay.of(today, daysBefore: days - 1)
        let previousTo = QuotaDay.of(today, daysBefore: days), previousFrom = QuotaDay.of(today, daysBefore: 2 * days - 1)
        var trends = Trends(region: region, category: category, from: from, to: to, previousFrom: previousFrom, previousTo: previousTo,
                            chartDay: nil, chart: [], chartKeywords: [], chartSnapshots: 0, previousChartSnapshots: 0, chartVideos: 0,
                            ownKeywords: [], ownVideos: 0, ownVideosWithViews: 0)
        let chart = category ?? ""
        let stopwords = Self.stopwords.sorted()
        // The chart: a keyword's figure is its appearances (video-days) on the daily charts.
        let samples = try await client.query("""
            SELECT count(DISTINCT day) FILTER (WHERE day >= \(from)::date), count(DISTINCT day) FILTER (WHERE day < \(from)::date),
                   count(DISTINCT youtube_video_id) FILTER (WHERE day >= \(from)::date), to_char(max(day), 'YYYY-MM-DD')
              FROM trending_videos WHERE region = \(region) AND category = \(chart) AND day BETWEEN \(previousFrom)::date AND \(to)::date
            """, logger: logger)
        for try await (current, previous, videos, latest) in samples.decode((Int64, Int64, Int64, String?).self) {
            (trends.chartSnapshots, trends.previousChartSnapshots, trends.chartVideos, trends.chartDay) = (Int(current), Int(previous), Int(videos), latest)
        }
        if let latest = trends.chartDay {
            let top = try await client.query("""
                SELECT rank, youtube_video_id, title, channel_title, views FROM trending_videos
                 WHERE day = \(latest)::date AND region = \(region) AND category = \(chart) ORDER BY rank LIMIT 10
                """, logger: logger)
            for try await (rank, id, title, channel, views) in top.decode((Int32, String, String, String, Int64).self) {
                trends.chart.append(TrendingVideo(rank: Int(rank), youtubeVideoID: id, title: title, channelTitle: channel, views: views))
            }
        }
        let chartWords = try await client.query("""
            WITH words AS (
                SELECT t.day, t.youtube_video_id, w.word
                  FROM trending_videos t
                  CROSS JOIN LATERAL (SELECT DISTINCT lower(trim(x)) AS word
                                        FROM (SELECT regexp_split_to_table(t.title, '[^[:alnum:]]+') AS x UNION ALL SELECT unnest(t.tags)) s) w
                 WHERE t.region = \(region) AND t.category = \(chart) AND t.day BETWEEN \(previousFrom)::date AND \(to)::date
                   AND length(w.word) BETWEEN 3 AND 60 AND w.word !~ '^[0-9]+$' AND w.word <> ALL(\(stopwords))
            )
            SELECT word, count(DISTINCT youtube_video_id) FILTER (WHERE day >= \(from)::date),
                   count(*) FILTER (WHERE day >= \(from)::date), count(*) FILTER (WHERE day < \(from)::date)
              FROM words GROUP BY word HAVING count(*) FILTER (WHERE day >= \(from)::date) > 0
             ORDER BY 3 DESC, 2 DESC, word LIMIT 20
            """, logger: logger)
        for try await (word, videos, current, previous) in chartWords.decode((String, Int64, Int64, Int64).self) {
            trends.chartKeywords.append(TrendKeyword(keyword: word, videos: Int(videos), current: current, previous: previous))
        }
        // The user's videos: a keyword's figure is the views of the videos carrying it, ranked
        // by how much they grew against the period before.
        let ownFrom = QuotaDay.of(today, daysBefore: days), ownTo = QuotaDay.of(today, daysBefore: 1)
        let ownPreviousFrom = QuotaDay.of(today, daysBefore: 2 * days)
        let own = try await client.query("""
            WITH published AS (
                SELECT v.id, v.title, v.tags FROM videos v WHERE v.user_id = \(userID) AND v.status = 'published'
            ), words AS (
                SELECT DISTINCT p.id, lower(trim(x)) AS word
                  FROM published p CROSS JOIN LATERAL (SELECT regexp_split_to_table(p.title, '[^[:alnum:]]+') AS x UNION ALL SELECT unnest(p.tags)) s
            ), views AS (
                SELECT d.video_id, sum(d.views) FILTER (WHERE d.day >= \(ownFrom)::date) AS current,
                       sum(d.views) FILTER (WHERE d.day < \(ownFrom)::date) AS previous
                  FROM video_analytics_daily d JOIN published p ON p.id = d.video_id
                 WHERE d.day BETWEEN \(ownPreviousFrom)::date AND \(ownTo)::date
                 GROUP BY d.video_id
            ), ranked AS (
                SELECT w.word, count(*) AS videos, coalesce(sum(v.current), 0)::int8 AS current, coalesce(sum(v.previous), 0)::int8 AS previous
                  FROM words w LEFT JOIN views v ON v.video_id = w.id
                 WHERE length(w.word) BETWEEN 3 AND 60 AND w.word !~ '^[0-9]+$' AND w.word <> ALL(\(stopwords))
                 GROUP BY w.word
            )
            SELECT word, videos, current, previous, (SELECT count(*) FROM published), (SELECT count(*) FROM views)
              FROM ranked WHERE current > 0 OR previous > 0
             ORDER BY current - previous DESC, current DESC, word LIMIT 20
            """, logger: logger)
        for try await (word, videos, current, previous, published, withViews) in own.decode((String, Int64, Int64, Int64, Int64, Int64).self) {
            trends.ownKeywords.append(TrendKeyword(keyword: word, videos: Int(videos), current: current, previous: previous))
            (trends.ownVideos, trends.ownVideosWithViews) = (Int(published), Int(withViews))
        }
        if trends.ownKeywords.isEmpty {
            let counts = try await client.query("""
                SELECT count(*) FROM videos v WHERE v.user_id = \(userID) AND v.status = 'published'
                """, logger: logger)
            for try await n in counts.decode(Int64.self) { trends.ownVideos = Int(n) }
        }
        return trends
    }
}
