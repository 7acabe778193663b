import Domain
import Foundation
import Logging
import PostgresNIO

/// `eta-estimator`: how long a submitted video takes to finish (seconds from submission), from
/// the work queued ahead of it at each stage, how long each stage has lately taken, its length
/// and its batch; with a p90 from split-conformal calibration. Learnt from finished videos'
/// stage timings, against the naive queue depth × median stage time.
public struct ETAEstimator: Sendable {
    public static let id = "eta-estimator"

    static let stages = PipelineStage.allCases

    public static let features: [FeatureDefinition] = [
        FeatureDefinition("duration_target", "the requested length in seconds"),
        FeatureDefinition("batch_size", "videos submitted together with it (1 alone)"),
        FeatureDefinition("priority", "its queue priority (0 first)"),
        FeatureDefinition("in_flight", "videos still processing when it was submitted"),
    ] + stages.map { FeatureDefinition("depth_\($0.rawValue)", "videos ahead whose \($0.rawValue) stage had not finished at submission") }
      + stages.map { FeatureDefinition("median_\($0.rawValue)", "the median seconds of \($0.rawValue) stages finished in the 24 hours before") }
      + stages.map {
          FeatureDefinition("running_\($0.rawValue)",
                            "\($0.rawValue) stages running at submission: the worker slots busy at that stage (the fleet's size is not kept in history)")
      }

    public static let trainer = RegressionTrainer(
        modelID: id, features: features,
        parameters: ["objective": "reg:absoluteerror", "eta": "0.1", "max_depth": "4", "min_child_weight": "2", "tree_method": "exact",
                     "seed": "23"],
        rounds: 80, minimumExamples: 50, intervalAlpha: 0.1, upperBoundOnly: true)

    /// The queue at one instant, as the model takes it.
    public struct Snapshot: Sendable, Equatable {
        public var inFlight: Int
        /// Per stage, in `PipelineStage.allCases` order.
        public var depths: [Int]
        /// Per stage, seconds; nil when none finished in the window.
        public var medians: [Double?]
        /// Per stage, the stages running: its busy worker slots.
        public var running: [Int]

        /// An idle queue that has not finished anything lately.
        public static let empty = Snapshot(inFlight: 0, depths: stages.map { _ in 0 }, medians: stages.map { _ in nil }, running: stages.map { _ in 0 })

        /// Queue depth × median stage time: every stage waits for each video ahead of it at that
        /// stage plus its own run, at the stage's median (0 while unknown).
        public var baselineSeconds: Double {
            zip(depths, medians).reduce(0) { $0 + Double($1.0 + 1) * ($1.1 ?? 0) }
        }

        public func features(durationTarget: Int, batchSize: Int, priority: Int) -> [Double] {
            [Double(durationTarget), Double(batchSize), Double(priority), Double(inFlight)] + depths.map(Double.init) + medians.map { $0 ?? .nan }
                + running.map(Double.init)
        }
    }

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The queue a submission at `instant` (an SQL expression) meets: the videos in flight and,
    /// per stage, those whose stage had not finished (`depth`), and the median run of each
    /// stage over the 24 hours before (`median`); two lateral subqueries. `inFlight` says which
    /// videos were in flight (SQL over `w`).
    static func snapshotSQL(at instant: String, inFlight: String) -> String {
        let depths = stages.map { "count(*) FILTER (WHERE s.stage = '\($0.rawValue)' AND (s.finished_at IS NULL OR s.finished_at > \(instant)))" }
        let running = stages.map {
            "count(*) FILTER (WHERE s.stage = '\($0.rawValue)' AND s.started_at <= \(instant) AND (s.finished_at IS NULL OR s.finished_at > \(instant)))"
        }
        let medians = stages.map {
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - d.started_at)) FILTER (WHERE d.stage = '\($0.rawValue)')"
        }
        return """
            LATERAL (SELECT count(DISTINCT w.id), \((depths + running).joined(separator: ", "))
                       FROM videos w JOIN video_stages s ON s.video_id = w.id
                      WHERE w.kind = 'video' AND \(inFlight)) AS depth
            CROSS JOIN LATERAL (SELECT \(medians.joined(separator: ", "))
                       FROM video_stages d
                      WHERE d.status = 'completed' AND d.started_at IS NOT NULL
                        AND d.finished_at < \(instant) AND d.finished_at >= \(instant) - interval '24 hours') AS median
            """
    }

    /// The queue now, for a submission: the videos processing (through their partial index),
    /// but not `excluding` (the submission's own, already committed).
    public func snapshot(excluding videoIDs: [String] = []) async throws -> Snapshot {
        let inFlight = "w.status = 'processing' AND w.id <> ALL($1::text[])"
        let sql = "SELECT depth.*, median.* FROM (SELECT now() AS instant) n CROSS JOIN \(Self.snapshotSQL(at: "n.instant", inFlight: inFlight))"
        var bindings = PostgresBindings()
        bindings.append(videoIDs)
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            return try Self.snapshot(row.makeRandomAccess(), offset: 0)
        }
        return .empty
    }

    /// The snapshot in `columns` from `offset`: in flight, the depths and the running of each
    /// stage (the depth subquery), then the medians.
    static func snapshot(_ columns: PostgresRandomAccessRow, offset: Int) throws -> Snapshot {
        let count = stages.count
        let inFlight = try columns[offset].decode(Int64.self)
        let depths = try (0..<count).map { try columns[offset + 1 + $0].decode(Int64.self) }
        let running = try (0..<count).map { try columns[offset + 1 + count + $0].decode(Int64.self) }
        let medians = try (0..<count).map { try columns[offset + 1 + 2 * count + $0].decode(Double?.self) }
        return Snapshot(inFlight: Int(inFlight), depths: depths.map(Int.init), medians: medians, running: running.map(Int.init))
    }

    /// Every video of the last `days` that finished, with the queue it met when submitted
    /// (rebuilt from the stage timings) and how long it took; at most `limit`, the newest.
    public func examples(days: Int = 30, limit: Int = 5000) async throws -> [Example] {
        let sql = """
            SELECT v.duration_target, CASE WHEN v.batch_id IS NULL THEN 1 ELSE (SELECT count(*) FROM videos b WHERE b.batch_id = v.batch_id) END,
                   v.priority,
                   extract(epoch FROM v.finished_at - v.created_at)::float8, v.finished_at, depth.*, median.*
              FROM (SELECT * FROM videos
                     WHERE kind = 'video' AND status IN ('completed', 'published') AND finished_at IS NOT NULL
                       AND created_at >= now() - make_interval(days => \(Int32(clamping: days)))
                     ORDER BY finished_at DESC LIMIT \(max(1, limit))) v
             CROSS JOIN \(Self.snapshotSQL(at: "v.created_at",
                                            inFlight: "w.id <> v.id AND w.created_at < v.created_at AND (w.finished_at IS NULL OR w.finished_at > v.created_at)"))
            """
        var examples: [Example] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
            let columns = row.makeRandomAccess()
            let duration = try columns[0].decode(Int32.self), batchSize = try columns[1].decode(Int64.self)
            let priority = try columns[2].decode(Int16.self), seconds = try columns[3].decode(Double.self)
            let finished = try columns[4].decode(Date.self)
            let snapshot = try Self.snapshot(columns, offset: 5)
            examples.append(Example(features: snapshot.features(durationTarget: Int(duration), batchSize: Int(batchSize), priority: Int(priority)),
                                    actual: seconds, baseline: snapshot.baselineSeconds, at: finished))
        }
        return examples
    }

    /// Trains on the finished videos.
    public func train() async throws -> TrainedModel {
        try Self.trainer.train(try await examples())
    }
}
