import Domain
import Foundation
import Logging
import PostgresNIO

/// `cost-estimator`: a video's total cost in dollars from its options, learnt from what
/// finished videos really cost (their ledger), against the price table's worst case for the
/// same options (what `estimated_cost` says without a model).
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
    ]

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

        public var features: [Double] {
            [Double(durationTarget), Double(qualityThreshold), categoryCode(scriptStyle), categoryCode(thumbnailStyle), categoryCode(voiceID),
             Double(keywords), Double(titleLength), worstCase.dollars]
        }
    }

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Every finished video of the last `days` with its options, real cost and worst case,
    /// oldest first. Videos that failed or were cancelled are left out: their cost is not a
    /// whole video's.
    public func examples(days: Int = 180) async throws -> [Example] {
        let rows = try await client.query("""
            SELECT v.duration_target, v.quality_threshold, v.script_style, v.thumbnail_style, v.voice_id, cardinality(v.keywords),
                   char_length(v.title), v.estimated_cost, v.spent, v.finished_at
              FROM videos v
             WHERE v.kind = 'video' AND v.status IN ('completed', 'published') AND v.finished_at IS NOT NULL
               AND v.finished_at >= now() - make_interval(days => \(Int32(clamping: days)))
             ORDER BY v.finished_at, v.id
            """, logger: logger)
        var examples: [Example] = []
        for try await (duration, threshold, script, thumbnail, voice, keywords, titleLength, worstCase, spent, finished)
            in rows.decode((Int32, Int32, String, String, String, Int32, Int32, Int64, Int64, Date).self) {
            let options = Options(durationTarget: Int(duration), qualityThreshold: Int(threshold), scriptStyle: script, thumbnailStyle: thumbnail,
                                  voiceID: voice, keywords: Int(keywords), titleLength: Int(titleLength), worstCase: Money(micros: worstCase))
            examples.append(Example(features: options.features, actual: Money(micros: spent).dollars, baseline: options.worstCase.dollars,
                                    at: finished))
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
        let rows = zip(requests, baselines).map { CostEstimator.Options($0, worstCase: $1).features }
        let values = try booster.predict(rows)
        return (version.version, values.map { Money(dollars: max(0, $0.isFinite ? $0 : 0)) })
    }
}
