import Domain
import Foundation
import Logging
import PostgresNIO

/// SplitMix64: the same numbers for the same seed, on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The simulated history the tests and `ytempire bench models` train on (the offline providers
/// cost nothing, so a fresh system has no spend to learn from): finished videos whose script
/// costs 0.0005 $ per second of duration, their voice 0.0015 $/s plus uniform noise of ±0.05 $,
/// their thumbnail 0.40 $ for reviews (0.10 $ otherwise), assembly and review nothing; and whose
/// price-table estimate is 0.006 $/s + 1.20 $, or exactly their cost with `baselineIsExact`.
/// The same seed gives the same videos.
public enum SyntheticHistory {
    public struct Video: Sendable {
        public var durationTarget: Int
        public var scriptStyle: String
        /// Per stage, in `CostEstimator.stages` order.
        public var stageCosts: [Money]
        public var estimate: Money
        public var spent: Money { stageCosts.reduce(.zero, +) }
    }

    public static func videos(count: Int, seed: UInt64, baselineIsExact: Bool = false) -> [Video] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let duration = Int.random(in: 60...900, using: &generator)
            let style = ["educational", "entertaining", "review"][Int.random(in: 0..<3, using: &generator)]
            let noise = Double.random(in: -0.05...0.05, using: &generator)
            let costs: [PipelineStage: Double] = [
                .script: Double(duration) * 0.0005, .voice: max(0, Double(duration) * 0.0015 + noise), .thumbnail: style == "review" ? 0.4 : 0.1,
            ]
            let stageCosts = CostEstimator.stages.map { Money(dollars: costs[$0] ?? 0) }
            let spent = stageCosts.reduce(Money.zero, +)
            return Video(durationTarget: duration, scriptStyle: style, stageCosts: stageCosts,
                         estimate: baselineIsExact ? spent : Money(dollars: Double(duration) * 0.006 + 1.2))
        }
    }

    /// The videos as the cost estimator's examples (a video's five stage rows), one an hour ending now.
    public static func costExamples(count: Int, seed: UInt64) -> [Example] {
        let start = Date().addingTimeInterval(-Double(count) * 3600)
        return videos(count: count, seed: seed).enumerated().flatMap { index, video in
            let options = CostEstimator.Options(durationTarget: video.durationTarget, qualityThreshold: 70, scriptStyle: video.scriptStyle,
                                                thumbnailStyle: "modern", voiceID: "voice_professional_male", keywords: 0,
                                                titleLength: "Seeded video".count, worstCase: video.estimate)
            return options.examples(actual: video.stageCosts.map(\.dollars), at: start.addingTimeInterval(Double(index) * 3600), video: "vid_\(index)")
        }
    }
}

extension SyntheticHistory {
    /// A simulated video through the pipeline: when it was submitted and each stage's run,
    /// in seconds from the first submission.
    public struct PipelineVideo: Sendable {
        public var submitted: Double
        public var durationTarget: Int
        /// (stage, started, finished), in pipeline order.
        public var stages: [(stage: PipelineStage, started: Double, finished: Double)]
        public var finished: Double { stages.last?.finished ?? submitted }
    }

    /// Videos submitted about every `interval` seconds (exponential gaps; the default keeps the
    /// busiest stage, voice, about 80% busy, so queues come and go) into a fleet with
    /// `slots` workers per stage, first come first served, each stage taking a time that grows
    /// with the video's length (script 5 s + 0.01 s per second of video, voice 3 s + 0.05 s/s,
    /// thumbnail 4 s, assembly 2 s + 0.03 s/s, review 1 s; each ±10%). The same seed gives the
    /// same history.
    public static func pipeline(count: Int, seed: UInt64, interval: Double = 12, slots: Int = 2) -> [PipelineVideo] {
        var generator = SeededGenerator(seed: seed)
        var free = Dictionary(uniqueKeysWithValues: PipelineStage.allCases.map { ($0, [Double](repeating: 0, count: max(1, slots))) })
        var clock = 0.0
        var videos: [PipelineVideo] = []
        for _ in 0..<count {
            clock += -log(max(1e-9, Double.random(in: 0..<1, using: &generator))) * interval
            let duration = Int.random(in: 30...600, using: &generator)
            var ready = clock
            var runs: [(stage: PipelineStage, started: Double, finished: Double)] = []
            for stage in PipelineStage.allCases {
                let base: Double = switch stage {
                case .script: 5 + 0.01 * Double(duration)
                case .voice: 3 + 0.05 * Double(duration)
                case .thumbnail: 4
                case .assemble: 2 + 0.03 * Double(duration)
                case .review: 1
                }
                let time = base * Double.random(in: 0.9...1.1, using: &generator)
                var slotTimes = free[stage] ?? [0]
                let slot = slotTimes.indices.min { slotTimes[$0] < slotTimes[$1] } ?? 0
                let started = max(ready, slotTimes[slot])
                slotTimes[slot] = started + time
                free[stage] = slotTimes
                runs.append((stage, started, started + time))
                ready = started + time
            }
            videos.append(PipelineVideo(submitted: clock, durationTarget: duration, stages: runs))
        }
        return videos
    }
}

extension SyntheticHistory {
    /// Writes `count` finished videos of `userID` from `videos(count:seed:baselineIsExact:)`, one
    /// an hour up to now, with their stages' costs in the ledger (actual rows of the `synthetic`
    /// provider), for the tests.
    public static func insertFinishedVideos(client: PostgresClient, logger: Logger, userID: String, channelID: String, count: Int,
                                            seed: UInt64, baselineIsExact: Bool = false) async throws {
        let videos = videos(count: count, seed: seed, baselineIsExact: baselineIsExact)
        let start = Date().addingTimeInterval(-Double(count) * 3600)
        let ids = videos.indices.map { String(format: "vid_seed%06d", $0) + String(userID.suffix(6)) }
        try await client.query("""
            INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                cost_limit, estimated_cost, spent, status, finished_at, created_at)
            SELECT id, \(userID), \(channelID), 'Seeded video', style, 'voice_professional_male', 'modern', duration, 70, 100000000, worst, spent,
                   'completed', finished, finished - interval '10 minutes'
              FROM unnest(\(ids)::text[], \(videos.map { Int32($0.durationTarget) })::int4[], \(videos.map(\.scriptStyle))::text[],
                          \(videos.map(\.estimate.micros))::int8[], \(videos.map(\.spent.micros))::int8[],
                          \(videos.indices.map { start.addingTimeInterval(Double($0) * 3600) })::timestamptz[])
                   AS t(id, duration, style, worst, spent, finished)
            """, logger: logger)
        let costs = zip(ids, videos).flatMap { id, video in
            zip(CostEstimator.stages, video.stageCosts).filter { $0.1 > .zero }.map { (id, $0.0.rawValue, $0.1.micros) }
        }
        // Job ids below any the ledger holds: the ledger's (job_id, attempt) is unique.
        try await client.query("""
            INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis, created_at)
            SELECT (SELECT least(coalesce(min(job_id), 0), 0) FROM cost_ledger) - t.n, 1, t.id, \(userID), t.stage, 'synthetic', 'synthetic', 1,
                   'video', t.amount / 1e6, t.amount, 'actual', v.finished_at - interval '1 minute'
              FROM unnest(\(costs.map(\.0))::text[], \(costs.map(\.1))::text[], \(costs.map(\.2))::int8[]) WITH ORDINALITY AS t(id, stage, amount, n)
              JOIN videos v ON v.id = t.id
            """, logger: logger)
    }

    /// Writes `count` videos of `userID` that went through a simulated fleet
    /// (`pipeline(count:seed:slots:)`), with their stages' runs, the last finishing a minute ago.
    public static func insertPipeline(client: PostgresClient, logger: Logger, userID: String, channelID: String, count: Int, seed: UInt64,
                                      slots: Int = 2) async throws {
        let videos = pipeline(count: count, seed: seed, slots: slots)
        let end = videos.map(\.finished).max() ?? 0
        let origin = Date().addingTimeInterval(-end - 60)
        let ids = videos.indices.map { String(format: "vid_eta%06d", $0) + String(userID.suffix(6)) }
        try await client.query("""
            INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                cost_limit, status, progress, created_at, finished_at)
            SELECT id, \(userID), \(channelID), 'Simulated video', 'educational', 'voice_professional_male', 'modern', duration, 70, 1000000,
                   'completed', 100, created, finished
              FROM unnest(\(ids)::text[], \(videos.map { Int32($0.durationTarget) })::int4[],
                          \(videos.map { origin.addingTimeInterval($0.submitted) })::timestamptz[],
                          \(videos.map { origin.addingTimeInterval($0.finished) })::timestamptz[]) AS t(id, duration, created, finished)
            """, logger: logger)
        let stageRows = zip(ids, videos).flatMap { id, video in video.stages.map { (id, $0.stage.rawValue, $0.started, $0.finished) } }
        try await client.query("""
            INSERT INTO video_stages (video_id, stage, status, attempt, started_at, finished_at)
            SELECT id, stage, 'completed', 1, started, finished
              FROM unnest(\(stageRows.map(\.0))::text[], \(stageRows.map(\.1))::text[],
                          \(stageRows.map { origin.addingTimeInterval($0.2) })::timestamptz[],
                          \(stageRows.map { origin.addingTimeInterval($0.3) })::timestamptz[]) AS t(id, stage, started, finished)
            ON CONFLICT (video_id, stage) DO UPDATE SET status = 'completed', started_at = excluded.started_at, finished_at = excluded.finished_at
            """, logger: logger)
    }
}

extension SyntheticHistory {
    /// A simulated published video: its channel (an index), how many days ago it was
    /// published, and its views per day from the day of publication.
    public struct PublishedVideo: Sendable {
        public var channel: Int
        public var publishedDaysAgo: Int
        public var durationTarget: Int
        public var titleLength: Int
        /// Views per day, index 0 the day of publication, up to yesterday (at most 30 days).
        public var views: [Int64]
    }

    /// `channels` channels publishing a video every one to three days over the last `days`
    /// days. A video gets `s × q × e^(−age/τ)` views on day `age` (0: the day of publication),
    /// plus a tail of 3% of its first day, each day ±20%: `s` its channel's size (log-uniform,
    /// 50 to 5,000), `q` its own appeal (log-normal, σ 0.7), `τ` how fast it fades (1.5 to 8
    /// days), so its first days say much of what its 30 will be and its channel's median
    /// little. The same seed gives the same videos.
    public static func publishedVideos(channels: Int, days: Int, seed: UInt64) -> [PublishedVideo] {
        var generator = SeededGenerator(seed: seed)
        var videos: [PublishedVideo] = []
        for channel in 0..<max(1, channels) {
            let size = exp(Double.random(in: log(50.0)...log(5000.0), using: &generator))
            var daysAgo = days
            while daysAgo > 0 {
                // Box-Muller for the appeal's normal.
                let u1 = max(1e-12, Double.random(in: 0..<1, using: &generator)), u2 = Double.random(in: 0..<1, using: &generator)
                let appeal = exp(0.7 * sqrt(-2 * log(u1)) * cos(2 * .pi * u2))
                let fade = Double.random(in: 1.5...8, using: &generator)
                let first = size * appeal
                let views = (0..<min(30, daysAgo)).map { age in
                    Int64((first * (exp(-Double(age) / fade) + 0.03) * Double.random(in: 0.8...1.2, using: &generator)).rounded())
                }
                videos.append(PublishedVideo(channel: channel, publishedDaysAgo: daysAgo, durationTarget: Int.random(in: 60...900, using: &generator),
                                             titleLength: Int.random(in: 20...90, using: &generator), views: views))
                daysAgo -= Int.random(in: 1...3, using: &generator)
            }
        }
        return videos
    }

    /// The same videos as the views forecast reads them back from the analytics, kept in
    /// memory (`ytempire bench models`): engagements 4% of views, three minutes watched per
    /// view, today being `today` (days since 1970).
    public static func viewCurves(channels: Int, days: Int, seed: UInt64, today: Int = 20_000) -> [ViewsForecast.Curve] {
        publishedVideos(channels: channels, days: days, seed: seed).enumerated().map { index, video in
            ViewsForecast.Curve(videoID: "vid_\(index)", channelID: "ch_\(video.channel)", publishedDay: today - video.publishedDaysAgo,
                                observedDays: video.views.count, views: video.views,
                                engagements: video.views.map { $0 * 3 / 100 + $0 / 200 + $0 / 200 }, minutes: video.views.map { $0 * 3 },
                                durationTarget: video.durationTarget, titleLength: video.titleLength)
        }
    }

    /// Writes `publishedVideos(channels: channelIDs.count, days:seed:)` as published videos of
    /// `userID` on `channelIDs`, each published at noon Pacific and with its daily analytics
    /// (as in `viewCurves`).
    /// - Returns: the videos' ids, in the order of `publishedVideos`.
    @discardableResult
    public static func insertPublishedVideos(client: PostgresClient, logger: Logger, userID: String, channelIDs: [String], days: Int,
                                             seed: UInt64) async throws -> [String] {
        let videos = publishedVideos(channels: channelIDs.count, days: days, seed: seed)
        let ids = videos.indices.map { String(format: "vid_pub%06d", $0) + String(userID.suffix(6)) }
        try await client.query("""
            INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                cost_limit, status, progress, youtube_video_id, published_at, created_at, finished_at)
            SELECT id, \(userID), channel, rpad('Published video', title_length, '.'), 'educational', 'voice_professional_male', 'modern', duration,
                   70, 1000000, 'published', 100, 'ytsim' || id, published, published - interval '1 hour', published - interval '30 minutes'
              FROM unnest(\(ids)::text[], \(videos.map { channelIDs[$0.channel] })::text[], \(videos.map { Int32($0.durationTarget) })::int4[],
                          \(videos.map { Int32($0.titleLength) })::int4[], \(videos.map { Int32($0.publishedDaysAgo) })::int4[])
                   AS t(id, channel, duration, title_length, days_ago)
             CROSS JOIN LATERAL (SELECT (((now() AT TIME ZONE 'America/Los_Angeles')::date - days_ago) + time '12:00')
                                        AT TIME ZONE 'America/Los_Angeles' AS published) p
            """, logger: logger)
        let rows = zip(ids, videos).flatMap { id, video in
            video.views.enumerated().map { (id, channelIDs[video.channel], Int32(video.publishedDaysAgo - $0.offset), $0.element) }
        }
        try await client.query("""
            INSERT INTO video_analytics_daily (video_id, channel_id, day, views, minutes_watched, average_view_duration, likes, comments, shares,
                                               subscribers_gained, subscribers_lost)
            SELECT id, channel, (now() AT TIME ZONE 'America/Los_Angeles')::date - days_ago, views, views * 3, 180, views * 3 / 100, views / 200,
                   views / 200, views / 500, 0
              FROM unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::text[], \(rows.map(\.2))::int4[], \(rows.map(\.3))::int8[])
                   AS t(id, channel, days_ago, views)
            """, logger: logger)
        return ids
    }
}
