import Domain
import Foundation
import Logging
import PostgresNIO

/// `views-forecast`: a published video's views over its first 7 and first 30 days (YouTube's
/// Pacific days, the day of publication being day 1), from the days it has had so far, its
/// channel's earlier videos and its own metadata. Learnt from the per-video daily analytics
/// the channel syncs store, against the channel's median video at that age.
public struct ViewsForecast: Sendable {
    public static let id = "views-forecast"

    /// The days forecast.
    public static let horizons = [7, 30]

    /// The ages (days observed) a forecast is trained at, per horizon: every day of the first
    /// week, then sparser.
    static let trainingAges: [Int: [Int]] = [7: Array(0..<7), 30: [0, 1, 2, 3, 5, 7, 10, 14, 21, 28]]

    /// How many of the channel's latest videos the baseline's median is taken over.
    static let peerCount = 50

    /// More views than any video has had in a month: a forecast above it is cut to it.
    static let ceiling = 1e10

    public static let features = [
        FeatureDefinition("horizon", "the day forecast: 7 or 30"),
        FeatureDefinition("observed_days", "days since publication the analytics cover (0 before the first sync)"),
        FeatureDefinition("views_so_far", "views over the observed days"),
        FeatureDefinition("views_last_day", "views on the last observed day"),
        FeatureDefinition("engagements_so_far", "likes, comments and shares over the observed days"),
        FeatureDefinition("minutes_so_far", "minutes watched over the observed days"),
        FeatureDefinition("channel_median_at_horizon", "the median views at the horizon of the channel's latest 50 videos that had reached it (missing without any)"),
        FeatureDefinition("channel_median_at_observed", "the median views of the same videos after the observed days"),
        FeatureDefinition("channel_videos", "how many videos those medians are taken over"),
        FeatureDefinition("duration_target", "the video's requested length in seconds"),
        FeatureDefinition("title_length", "its title's length in characters"),
        FeatureDefinition("keywords", "how many keywords it has"),
    ]

    public static let trainer = RegressionTrainer(
        modelID: id, features: features,
        parameters: ["objective": "reg:squarederror", "eta": "0.1", "max_depth": "5", "min_child_weight": "2", "tree_method": "exact",
                     "seed": "29"],
        rounds: 120, minimumExamples: 50, labelScale: .log1p, groups: .each)

    /// A published video's first 30 days as the analytics syncs stored them.
    public struct Curve: Sendable, Equatable {
        public var videoID: String
        public var channelID: String
        /// Its day of publication (Pacific), in days since 1970-01-01.
        public var publishedDay: Int
        /// How many of its first 30 days the analytics cover.
        public var observedDays: Int
        /// Per day since publication (index 0: the day of publication), 30 of each; 0 where no
        /// figures are stored.
        public var views: [Int64]
        public var engagements: [Int64]
        public var minutes: [Int64]
        public var durationTarget: Int
        public var titleLength: Int
        public var keywords: Int

        public init(videoID: String, channelID: String, publishedDay: Int, observedDays: Int, views: [Int64], engagements: [Int64] = [],
                    minutes: [Int64] = [], durationTarget: Int = 600, titleLength: Int = 20, keywords: Int = 0) {
            func padded(_ values: [Int64]) -> [Int64] { Array((values + Array(repeating: 0, count: 30)).prefix(30)) }
            self.videoID = videoID
            self.channelID = channelID
            self.publishedDay = publishedDay
            self.observedDays = min(30, max(0, observedDays))
            self.views = padded(views)
            self.engagements = padded(engagements)
            self.minutes = padded(minutes)
            self.durationTarget = durationTarget
            self.titleLength = titleLength
            self.keywords = keywords
        }

        /// Views over its first `days` days; nil until the analytics cover them.
        public func views(through days: Int) -> Int64? {
            days <= observedDays ? views.prefix(days).reduce(0, &+) : nil
        }
    }

    /// One forecast's inputs and its baseline's answer.
    struct Row {
        var features: [Double]
        var baseline: Double
    }

    /// The features of forecasting `video`'s views at `horizon` after `age` observed days, and
    /// the baseline's answer: the median of `peers` at the horizon (each had reached it), or
    /// the views so far when the channel has no such video.
    static func row(_ video: Curve, horizon: Int, age: Int, peers: [Curve]) -> Row {
        let age = min(max(0, age), horizon - 1, video.observedDays)
        let soFar = video.views.prefix(age).reduce(0, &+)
        let atHorizon = median(peers.compactMap { $0.views(through: horizon) })
        let atAge = median(peers.compactMap { $0.views(through: age) })
        let features: [Double] = [
            Double(horizon), Double(age), Double(soFar), age > 0 ? Double(video.views[age - 1]) : 0,
            Double(video.engagements.prefix(age).reduce(0, &+)), Double(video.minutes.prefix(age).reduce(0, &+)),
            atHorizon ?? .nan, atAge ?? .nan, Double(peers.count),
            Double(video.durationTarget), Double(video.titleLength), Double(video.keywords),
        ]
        // Never below what was already counted (as the forecast shown never is).
        return Row(features: features, baseline: max(atHorizon ?? Double(soFar), Double(soFar)))
    }

    /// The channel's latest videos (at most `peerCount`) published early enough to have
    /// reached `horizon` by `day`, and covered that far. `channel` is in order of publication.
    static func peers(in channel: [Curve], horizon: Int, byDay day: Int) -> [Curve] {
        let latest = day - horizon + 1
        // The first video published after `latest`, by binary search.
        var low = 0, high = channel.count
        while low < high {
            let middle = (low + high) / 2
            if channel[middle].publishedDay <= latest { low = middle + 1 } else { high = middle }
        }
        var found: [Curve] = []
        var index = low - 1
        while index >= 0, found.count < peerCount {
            if channel[index].observedDays >= horizon { found.append(channel[index]) }
            index -= 1
        }
        return found
    }

    static func median(_ values: [Int64]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? Double(sorted[middle]) : (Double(sorted[middle - 1]) + Double(sorted[middle])) / 2
    }

    /// The examples of `curves`: for each video covered through a horizon, a forecast at each
    /// training age, with the peers it had then. An example happened when its answer was known
    /// (the day after its horizon); a video's forecasts are one group (trained or tested together).
    public static func examples(_ curves: [Curve]) -> [Example] {
        var examples: [Example] = []
        // Channels in a fixed order: the examples' order, and so the training, is the same every run.
        for (_, channel) in Dictionary(grouping: curves, by: \.channelID).sorted(by: { $0.key < $1.key }) {
            let channel = channel.sorted { ($0.publishedDay, $0.videoID) < ($1.publishedDay, $1.videoID) }
            for video in channel {
                for horizon in horizons where video.observedDays >= horizon {
                    guard let actual = video.views(through: horizon) else { continue }
                    for age in trainingAges[horizon] ?? [] {
                        let peers = peers(in: channel, horizon: horizon, byDay: video.publishedDay + age - 1)
                        let row = row(video, horizon: horizon, age: age, peers: peers)
                        examples.append(Example(features: row.features, actual: Double(actual), baseline: row.baseline,
                                                at: date(ofDay: video.publishedDay + horizon), group: video.videoID))
                    }
                }
            }
        }
        return examples
    }

    static func date(ofDay day: Int) -> Date { Date(timeIntervalSince1970: Double(day) * 86_400) }

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The curves of the published videos `filter` (SQL over `v`, the videos) selects: the
    /// newest `limit`, oldest publication first. A video's days are covered up to the first day
    /// its analytics miss (a later day does not make a gap count as no views).
    func curves(where filter: PostgresQuery, limit: Int) async throws -> [Curve] {
        let sql = """
            WITH chosen AS (
                SELECT v.* FROM videos v
                 WHERE v.kind = 'video' AND v.published_at IS NOT NULL AND (\(filter.sql))
                 ORDER BY v.published_at DESC, v.id DESC
                 LIMIT \(max(1, limit)))
            SELECT v.id, v.channel_id, (p.day0 - DATE '1970-01-01')::int4, v.duration_target, char_length(v.title)::int4,
                   coalesce(cardinality(v.keywords), 0)::int4,
                   coalesce(a.ages, '{}'), coalesce(a.views, '{}'), coalesce(a.engaged, '{}'), coalesce(a.minutes, '{}')
              FROM chosen v
             CROSS JOIN LATERAL (SELECT (v.published_at AT TIME ZONE 'America/Los_Angeles')::date AS day0) p
              LEFT JOIN LATERAL (
                   SELECT array_agg((d.day - p.day0)::int4 ORDER BY d.day) AS ages,
                          array_agg(d.views ORDER BY d.day) AS views, array_agg(d.likes + d.comments + d.shares ORDER BY d.day) AS engaged,
                          array_agg(d.minutes_watched ORDER BY d.day) AS minutes
                     FROM video_analytics_daily d
                    WHERE d.video_id = v.id AND d.day >= p.day0 AND d.day < p.day0 + 30) a ON true
             ORDER BY v.published_at, v.id
            """
        var curves: [Curve] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: filter.binds), logger: logger) {
            let (id, channel, day, duration, titleLength, keywords, ages, views, engaged, minutes) =
                try row.decode((String, String, Int32, Int32, Int32, Int32, [Int32], [Int64], [Int64], [Int64]).self)
            var daily = (views: [Int64](repeating: 0, count: 30), engaged: [Int64](repeating: 0, count: 30), minutes: [Int64](repeating: 0, count: 30))
            var present = [Bool](repeating: false, count: 30)
            for (index, age) in ages.enumerated() where (0..<30).contains(age) && index < views.count && index < engaged.count && index < minutes.count {
                daily.views[Int(age)] = views[index]
                daily.engaged[Int(age)] = engaged[index]
                daily.minutes[Int(age)] = minutes[index]
                present[Int(age)] = true
            }
            let observed = present.firstIndex(of: false) ?? 30
            curves.append(Curve(videoID: id, channelID: channel, publishedDay: Int(day), observedDays: observed, views: daily.views,
                                engagements: daily.engaged, minutes: daily.minutes, durationTarget: Int(duration), titleLength: Int(titleLength),
                                keywords: Int(keywords)))
        }
        return curves
    }

    /// The examples of every video published in the last `days` (at most `limit`, the newest).
    public func examples(days: Int = 400, limit: Int = 20_000) async throws -> [Example] {
        let curves = try await curves(where: "v.published_at >= now() - make_interval(days => \(Int32(clamping: days)))", limit: limit)
        return Self.examples(curves)
    }

    /// Trains on the published videos' analytics.
    public func train() async throws -> TrainedModel {
        try Self.trainer.train(try await examples())
    }
}
