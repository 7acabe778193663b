import Domain
import Foundation
import Logging
import PostgresNIO

/// `cost-estimator`: a video's cost in dollars per pipeline stage and in total, from its
/// options, learnt from what finished videos' stages really cost (their ledger's actual rows),
/// against the price table's worst case for the same options (what `estimated_cost` says
/// without a model). A video is one example of five rows, one per stage (the `stage`
/// feature); the total is their sum, and it is the total that is measured.
public struct CostEstimator: Sendable {
    public static let id = "cost-estimator"

    public static let features = [
        FeatureDefinition("duration_target", "the requested length in seconds"),
        FeatureDefinition("quality_threshold", "the quality score the video must reach (0-100)"),
        FeatureDefinition("script_style", "the script style, as a category code"),
        FeatureDefinition("thumbnail_style", "the thumbnail style, as a category code"),
        FeatureDefinition("voice_id", "the voice, as a category code"),
        FeatureDefinition("keywords", "how many keywords were given"),
        FeatureDefinition("title_length", "the title's length in characters"),
        FeatureDefinition("worst_case", "the price table's worst case for the configured providers and models, in dollars"),
        FeatureDefinition("stage", "the pipeline stage predicted, by its place (script 0, voice 1, thumbnail 2, assemble 3, review 4)"),
    ]

    /// The stages a cost is predicted for, in the order of the `stage` feature.
    public static let stages = PipelineStage.allCases

    public static let trainer = RegressionTrainer(
        modelID: id, features: features,
        parameters: ["objective": "reg:squarederror", "eta": "0.1", "max_depth": "4", "min_child_weight": "2", "tree_method": "exact",
                     "seed": "17"],
        rounds: 80, minimumExamples: 50)

    /// The options of one video, as the model takes them.
    public struct Options: Sendable {
        public var durationTarget: Int
        public var qualityThreshold: Int
        public var scriptStyle: String
        public var thumbnailStyle: String
        public var voiceID: String
        public var keywords: Int
        public var titleLength: Int
        public var worstCase: Money

        public init(durationTarget: Int, qualityThreshold: Int, scriptStyle: String, thumbnailStyle: String, voiceID: String, keywords: Int,
                    titleLength: Int, worstCase: Money) {
            self.durationTarget = durationTarget
            self.qualityThreshold = qualityThreshold
            self.scriptStyle = scriptStyle
            self.thumbnailStyle = thumbnailStyle
            self.voiceID = voiceID
            self.keywords = keywords
            self.titleLength = titleLength
            self.worstCase = worstCase
        }

        /// One row per stage, in `CostEstimator.stages` order.
        public var rows: [[Double]] {
            let options = [Double(durationTarget), Double(qualityThreshold), categoryCode(scriptStyle), categoryCode(thumbnailStyle),
                           categoryCode(voiceID), Double(keywords), Double(titleLength), worstCase.dollars]
            return CostEstimator.stages.indices.map { options + [Double($0)] }
        }

        /// The examples of a finished video: its stages' real costs (`actual`, in `stages`
        /// order). The worst case is a total (the price table's estimate per stage at the time
        /// is not kept): it goes on the first row, so that the rows' sum is the video's.
        public func examples(actual: [Double], at: Date, video: String) -> [Example] {
            zip(rows, actual).enumerated().map { index, pair in
                Example(features: pair.0, actual: pair.1, baseline: index == 0 ? worstCase.dollars : 0, at: at, group: video)
            }
        }
    }

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Every finished video of the last `days` with its options, its stages' costs in the ledger
    /// (actual rows) and its worst case, oldest first. Videos that failed or were cancelled are
    /// left out: their cost is not a whole video's.
    public func examples(days: Int = 180) async throws -> [Example] {
        let rows = try await client.query("""
            SELECT v.id, v.duration_target, v.quality_threshold, v.script_style, v.thumbnail_style, v.voice_id, cardinality(v.keywords),
                   char_length(v.title), v.estimated_cost, v.finished_at, costs.amounts
              FROM videos v
             CROSS JOIN LATERAL (
                   SELECT array_agg(coalesce((SELECT sum(l.amount) FROM cost_ledger l
                                               WHERE l.video_id = v.id AND l.stage = s.stage AND l.basis = 'actual'), 0)::int8
                                    ORDER BY s.position) AS amounts
                     FROM unnest(\(Self.stages.map(\.rawValue))::text[]) WITH ORDINALITY AS s(stage, position)) costs
             WHERE v.kind = 'video' AND v.status IN ('completed', 'published') AND v.finished_at IS NOT NULL
               AND v.finished_at >= now() - make_interval(days => \(Int32(clamping: days)))
             ORDER BY v.finished_at, v.id
            """, logger: logger)
        var examples: [Example] = []
        for try await (id, duration, threshold, script, thumbnail, voice, keywords, titleLength, worstCase, finished, amounts)
            in rows.decode((String, Int32, Int32, String, String, String, Int32, Int32, Int64, Date, [Int64]).self) {
            let options = Options(durationTarget: Int(duration), qualityThreshold: Int(threshold), scriptStyle: script, thumbnailStyle: thumbnail,
                                  voiceID: voice, keywords: Int(keywords), titleLength: Int(titleLength), worstCase: Money(micros: worstCase))
            examples += options.examples(actual: amounts.map { Money(micros: $0).dollars }, at: finished, video: id)
        }
        return examples
    }

    /// Trains on the finished videos.
    public func train() async throws -> TrainedModel {
        try Self.trainer.train(try await examples())
    }
}

/// The cost model as submissions use it: the active version's expectation for each request,
/// never below zero; nil while the baseline is in use.
public struct ModelCostEstimator: CostEstimating {
    public let models: ActiveModels

    public init(models: ActiveModels) { self.models = models }

    public func expectedCosts(_ requests: [VideoRequest], baselines: [Money]) async throws -> (version: Int, costs: [Money])? {
        guard requests.count == baselines.count, !requests.isEmpty, let (version, booster) = try await models.model(CostEstimator.id) else {
            return nil
        }
        let stages = try version.predictStages(booster, zip(requests, baselines).map { CostEstimator.Options($0, worstCase: $1) })
        return (version.version, stages.map { Money(dollars: $0.reduce(0, +)) })
    }
}

extension ModelVersion {
    /// The cost of each stage (in `CostEstimator.stages` order) of each of `options`, in
    /// dollars, never below zero: a cost-estimator version run by `booster`.
    public func predictStages(_ booster: Booster, _ options: [CostEstimator.Options]) throws -> [[Double]] {
        let rows = options.flatMap(\.rows)
        let values = try predict(booster, rows)
        guard values.count == rows.count else { throw XGBoostError(message: "\(values.count) predictions for \(rows.count) rows") }
        return RegressionTrainer.runs(values, sizes: options.map { _ in CostEstimator.stages.count }).map { run in
            run.map { $0.isFinite ? max(0, $0) : 0 }
        }
    }
}
