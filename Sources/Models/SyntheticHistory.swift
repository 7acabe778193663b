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
/// cost nothing, so a fresh system has no spend to learn from): finished videos whose real
/// cost is 0.002 $ per second of duration, plus 0.40 $ for reviews (0.10 $ otherwise), plus
/// uniform noise of ±0.05 $; and whose price-table estimate is 0.006 $/s + 1.20 $, or exactly
/// their cost with `baselineIsExact`. The same seed gives the same videos.
public enum SyntheticHistory {
    public struct Video: Sendable {
        public var durationTarget: Int
        public var scriptStyle: String
        public var spent: Money
        public var estimate: Money
    }

    public static func videos(count: Int, seed: UInt64, baselineIsExact: Bool = false) -> [Video] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let duration = Int.random(in: 60...900, using: &generator)
            let style = ["educational", "entertaining", "review"][Int.random(in: 0..<3, using: &generator)]
            let dollars = Double(duration) * 0.002 + (style == "review" ? 0.4 : 0.1) + Double.random(in: -0.05...0.05, using: &generator)
            let spent = Money(dollars: max(0, dollars))
            return Video(durationTarget: duration, scriptStyle: style, spent: spent,
                         estimate: baselineIsExact ? spent : Money(dollars: Double(duration) * 0.006 + 1.2))
        }
    }

    /// The videos as the cost estimator's examples, one an hour ending now.
    public static func costExamples(count: Int, seed: UInt64) -> [Example] {
        let start = Date().addingTimeInterval(-Double(count) * 3600)
        return videos(count: count, seed: seed).enumerated().map { index, video in
            let options = CostEstimator.Options(durationTarget: video.durationTarget, qualityThreshold: 70, scriptStyle: video.scriptStyle,
                                                thumbnailStyle: "modern", voiceID: "voice_professional_male", keywords: 0,
                                                titleLength: "Seeded video".count, worstCase: video.estimate)
            return Example(features: options.features, actual: video.spent.dollars, baseline: video.estimate.dollars,
                           at: start.addingTimeInterval(Double(index) * 3600))
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
    /// an hour up to now (tests and `ytempire bench models` on a scratch database).
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
