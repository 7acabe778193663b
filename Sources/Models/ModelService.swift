import Domain
import Foundation
import Logging
import PostgresNIO

/// One value of a prediction input, as a client sent it.
public enum ModelInputValue: Sendable, Equatable {
    case number(Double)
    case text(String)
    case list([String])
    /// Anything else (an object, a boolean, null): refused where a field is expected.
    case other
}

/// An input field a model takes, as `GET /ml-models/{id}` lists it.
public struct ModelInputField: Sendable, Equatable {
    public enum Kind: String, Sendable { case integer, number, string, array }
    public var name: String
    public var kind: Kind
    public var required: Bool
    public var minimum: Double?
    public var maximum: Double?
    public var description: String
}

/// What a model is, for the dashboard.
public struct ModelDescription: Sendable {
    public var id: String
    public var name: String
    public var predicts: String
    public var unit: String
    public var baseline: String
    public var inputs: [ModelInputField]
    public var features: [FeatureDefinition]
    /// The days of predictions the live error looks back over: long enough for their
    /// outcomes to be known.
    public var liveWindowDays = 7
}

/// A model's state now: what answers, and its newest versions.
public struct ModelState: Sendable {
    public var description: ModelDescription
    /// The active version, when the model answers.
    public var active: ModelVersion?
    /// The newest versions, newest first.
    public var versions: [ModelVersion]
}

/// One prediction with the baseline's answer beside it.
public struct Prediction: Sendable, Equatable {
    public var value: Double
    public var baseline: Double
    public var interval: (low: Double, high: Double)?
    /// Per pipeline stage (`CostEstimator.stages` order), for the cost estimator: what `value`
    /// sums, by the model or, while the baseline answers, by the price table.
    public var stages: [Double]?

    public init(value: Double, baseline: Double, interval: (low: Double, high: Double)?, stages: [Double]? = nil) {
        self.value = value
        self.baseline = baseline
        self.interval = interval
        self.stages = stages
    }

    public static func == (lhs: Prediction, rhs: Prediction) -> Bool {
        lhs.value == rhs.value && lhs.baseline == rhs.baseline && lhs.interval?.low == rhs.interval?.low && lhs.interval?.high == rhs.interval?.high
            && lhs.stages == rhs.stages
    }
}

/// One input as a model takes it: its rows (one per stage for the cost estimator, else one),
/// and the baseline's answer, per stage where it has them.
struct ModelInput {
    var rows: [[Double]]
    var baseline: Double
    var baselineStages: [Double]?

    var baselinePrediction: Prediction { Prediction(value: baseline, baseline: baseline, interval: nil, stages: baselineStages) }
}

/// A model's live error: its predictions of the last days whose outcome is known.
public struct LiveError: Sendable, Equatable {
    public var windowDays: Int
    public var predictions: Int
    public var resolved: Int
    public var mae: Double?
    public var baselineMAE: Double?
}

/// The models as the API serves them: their descriptions and states, predictions by the
/// active version (or the baseline while there is none), and how they do live.
public struct ModelService: Sendable {
    public let models: ActiveModels
    public let plan: PipelinePlan
    public let latencies: PredictionLatencies
    let client: PostgresClient
    let logger: Logger

    public init(models: ActiveModels, plan: PipelinePlan, client: PostgresClient, logger: Logger) {
        self.models = models
        self.plan = plan
        self.latencies = PredictionLatencies()
        self.client = client
        self.logger = logger
    }

    /// Live error above the held-out error by more than this factor is a drift warning.
    public static let driftFactor = 1.5

    /// Every model this build has.
    public static let descriptions: [ModelDescription] = [
        ModelDescription(
            id: CostEstimator.id, name: "Cost estimator", predicts: "a video's cost per pipeline stage and in total, from its options", unit: "usd",
            baseline: "the price table's estimate for the configured providers (what estimated_cost says without a model)",
            inputs: [
                .init(name: "title", kind: .string, required: true, description: "the video's title (1-100 characters)"),
                .init(name: "duration_target", kind: .integer, required: false, minimum: 10, maximum: 3600, description: "seconds (default 600)"),
                .init(name: "quality_threshold", kind: .integer, required: false, minimum: 0, maximum: 100, description: "default 70"),
                .init(name: "script_style", kind: .string, required: false, description: VideoRequest.scriptStyles.joined(separator: ", ")),
                .init(name: "thumbnail_style", kind: .string, required: false, description: VideoRequest.thumbnailStyles.joined(separator: ", ")),
                .init(name: "voice_id", kind: .string, required: false, description: "the voice"),
                .init(name: "keywords", kind: .array, required: false, description: "up to 30 keywords"),
            ],
            features: CostEstimator.features),
        ModelDescription(
            id: ETAEstimator.id, name: "Time to done", predicts: "seconds from submission until a video is done (p50, with a p90)",
            unit: "seconds", baseline: "queue depth × median stage time: each stage waits for the videos ahead of it at that stage, at the stage's median of the last day",
            inputs: [
                .init(name: "duration_target", kind: .integer, required: false, minimum: 10, maximum: 3600, description: "seconds (default 600)"),
                .init(name: "batch_size", kind: .integer, required: false, minimum: 1, maximum: 1000, description: "videos submitted together (default 1)"),
                .init(name: "priority", kind: .integer, required: false, minimum: 0, maximum: 3, description: "0 first; normal is 2 (default)"),
            ],
            features: ETAEstimator.features),
        ModelDescription(
            id: ViewsForecast.id, name: "Views forecast",
            predicts: "a published video's views over its first 7 or 30 days (YouTube's Pacific days, the day of publication being day 1)",
            unit: "views",
            baseline: "the channel's median video at that age: the median views at the horizon of its latest 50 videos that reached it (the video's views so far when none has)",
            inputs: [
                .init(name: "video_id", kind: .string, required: true, description: "one of your published videos"),
                .init(name: "horizon", kind: .integer, required: false, minimum: 7, maximum: 30, description: "7 or 30 (default 30)"),
            ],
            features: ViewsForecast.features, liveWindowDays: 45),
    ]

    public static func description(_ id: String) -> ModelDescription? { descriptions.first { $0.id == id } }

    /// The state of every model.
    public func states() async throws -> [ModelState] {
        var states: [ModelState] = []
        for description in Self.descriptions { states.append(try await state(description)) }
        return states
    }

    /// The state of one model; nil when there is no such model.
    public func state(_ id: String) async throws -> ModelState? {
        guard let description = Self.description(id) else { return nil }
        return try await state(description)
    }

    private func state(_ description: ModelDescription) async throws -> ModelState {
        let versions = try await models.registry.versions(description.id, limit: 10)
        return ModelState(description: description, active: versions.first { $0.status == .active }, versions: versions)
    }

    /// Predictions for `inputs` (each validated: `invalid` names `inputs[i].field`), by the
    /// active version or, without one, the baseline.
    /// - Returns: the version that answered (nil: the baseline) and one prediction per input.
    /// - Parameter userID: who asks: a views forecast is only of their own videos.
    public func predict(_ id: String, inputs: [[String: ModelInputValue]], userID: String) async throws -> (version: Int?, predictions: [Prediction]) {
        guard let description = Self.description(id) else { throw DomainError(.notFound, "No model is called \(id)") }
        guard (1...1000).contains(inputs.count) else { throw DomainError(.invalid, "inputs must have 1 to 1000 entries", field: "inputs") }
        if id == ViewsForecast.id { return try await predictViews(description, inputs: inputs, userID: userID) }
        // Every input is checked before the queue is read.
        var examples = try inputs.enumerated().map { index, input in
            try features(description, input, snapshot: nil, prefix: "inputs[\(index)].")
        }
        if id == ETAEstimator.id {
            let snapshot = try await ETAEstimator(client: client, logger: logger).snapshot()
            examples = try inputs.enumerated().map { index, input in
                try features(description, input, snapshot: snapshot, prefix: "inputs[\(index)].")
            }
        }
        let started = ContinuousClock.now
        // A version that cannot be loaded (its artifact missing from the storage, say) leaves the
        // baseline answering; /health reports ml_pipeline unhealthy meanwhile.
        let loaded: (version: ModelVersion, booster: Booster)?
        do { loaded = try await models.model(id) } catch {
            logger.error("the active model could not be loaded; the baseline answers", metadata: ["model": "\(id)", "error": "\(error)"])
            loaded = nil
        }
        guard let (version, booster) = loaded else { return (nil, examples.map(\.baselinePrediction)) }
        let rows = examples.flatMap(\.rows)
        let values: [Double]
        do {
            values = try version.predict(booster, rows)
            guard values.count == rows.count else { throw XGBoostError(message: "\(values.count) predictions for \(rows.count) rows") }
        } catch {
            logger.error("the active model failed to predict; the baseline answers", metadata: ["model": "\(id)", "error": "\(error)"])
            return (nil, examples.map(\.baselinePrediction))
        }
        await latencies.record(id, ContinuousClock.now - started)
        let interval = version.metrics.interval
        let runs = RegressionTrainer.runs(values, sizes: examples.map(\.rows.count))
        return (version.version, zip(examples, runs).map { example, run in
            let own = run.map { $0.isFinite ? max(0, $0) : 0 }
            let value = own.reduce(0, +)
            return Prediction(value: value, baseline: example.baseline, interval: interval.map { interval in
                let bounds = interval.interval(around: value)
                return (max(0, bounds.low), max(0, bounds.high))
            }, stages: example.rows.count > 1 ? own : nil)
        })
    }

    /// Views forecasts for inputs naming the user's published videos and a horizon; a horizon
    /// already passed answers YouTube's count.
    func predictViews(_ description: ModelDescription, inputs: [[String: ModelInputValue]],
                      userID: String) async throws -> (version: Int?, predictions: [Prediction]) {
        var asked: [(videoID: String, horizon: Int)] = []
        for (index, input) in inputs.enumerated() {
            let prefix = "inputs[\(index)]."
            try Self.refuseUnknownInputs(input, of: description, prefix: prefix)
            guard case let .text(videoID)? = input["video_id"], !videoID.isEmpty, videoID.utf8.count <= 64 else {
                throw DomainError(.invalid, "\(prefix)video_id must be the id of one of your published videos", field: prefix + "video_id")
            }
            var horizon = 30
            switch input["horizon"] {
            case nil: break
            case let .number(value)? where value == 7 || value == 30: horizon = Int(value)
            default: throw DomainError(.invalid, "\(prefix)horizon must be 7 or 30", field: prefix + "horizon")
            }
            asked.append((videoID, horizon))
        }
        let forecasts = try await viewsForecasts(userID: userID, videoIDs: Array(Set(asked.map(\.videoID))))
        var version: Int?
        var predictions: [Prediction] = []
        for (index, item) in asked.enumerated() {
            guard let forecast = forecasts[item.videoID], let horizon = forecast.horizons.first(where: { $0.day == item.horizon }) else {
                throw DomainError(.invalid, "inputs[\(index)].video_id is not one of your published videos", field: "inputs[\(index)].video_id")
            }
            version = version ?? forecast.version
            predictions.append(Prediction(value: Double(horizon.views), baseline: Double(horizon.baseline ?? horizon.views), interval: nil))
        }
        return (version, predictions)
    }

    /// Refuses a field the model does not take, naming it when its name is printable (a
    /// hostile name, with control characters or too long, is not echoed back).
    static func refuseUnknownInputs(_ input: [String: ModelInputValue], of description: ModelDescription, prefix: String) throws {
        for key in input.keys.sorted() where !description.inputs.contains(where: { $0.name == key }) {
            let printable = key.utf8.count <= 64 && !key.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.value == 0 }
            guard printable else {
                throw DomainError(.invalid, "\(prefix.dropLast()) has a field that is not an input of \(description.id)", field: String(prefix.dropLast()))
            }
            throw DomainError(.invalid, "\(prefix)\(key) is not an input of \(description.id)", field: prefix + key)
        }
    }

    /// A model's features and its baseline's answer for one input.
    func features(_ description: ModelDescription, _ input: [String: ModelInputValue], snapshot: ETAEstimator.Snapshot?,
                  prefix: String) throws -> ModelInput {
        try Self.refuseUnknownInputs(input, of: description, prefix: prefix)
        func text(_ name: String) throws -> String? {
            switch input[name] {
            case nil: return nil
            case let .text(value)?: return value
            default: throw DomainError(.invalid, "\(prefix)\(name) must be a string", field: prefix + name)
            }
        }
        func integer(_ name: String) throws -> Int? {
            switch input[name] {
            case nil: return nil
            case let .number(value)? where value.rounded() == value && abs(value) < 1e9: return Int(value)
            default: throw DomainError(.invalid, "\(prefix)\(name) must be an integer", field: prefix + name)
            }
        }
        func list(_ name: String) throws -> [String]? {
            switch input[name] {
            case nil: return nil
            case let .list(values)?: return values
            default: throw DomainError(.invalid, "\(prefix)\(name) must be an array of strings", field: prefix + name)
            }
        }
        switch description.id {
        case CostEstimator.id:
            let request = try VideoRequest(
                channelID: "prediction", title: try text("title") ?? "", description: nil, scriptStyle: try text("script_style"),
                voiceID: try text("voice_id"), thumbnailStyle: try text("thumbnail_style"), durationTarget: try integer("duration_target"),
                keywords: try list("keywords"), costLimit: nil, qualityThreshold: try integer("quality_threshold"), defaultCostLimit: 1000,
                fieldPrefix: prefix)
            let options = CostEstimator.Options(request, worstCase: plan.estimate(request))
            return ModelInput(rows: options.rows, baseline: options.worstCase.dollars,
                              baselineStages: CostEstimator.stages.map { plan.estimate(request, stages: [$0]).dollars })
        case ETAEstimator.id:
            func bounded(_ name: String, _ range: ClosedRange<Int>, default value: Int) throws -> Int {
                let given = try integer(name) ?? value
                guard range.contains(given) else {
                    throw DomainError(.invalid, "\(prefix)\(name) must be from \(range.lowerBound) to \(range.upperBound)", field: prefix + name)
                }
                return given
            }
            let snapshot = snapshot ?? .empty
            let row = snapshot.features(durationTarget: try bounded("duration_target", 10...3600, default: 600),
                                        batchSize: try bounded("batch_size", 1...1000, default: 1), priority: try bounded("priority", 0...3, default: 2))
            return ModelInput(rows: [row], baseline: snapshot.baselineSeconds, baselineStages: nil)
        default:
            throw DomainError(.notFound, "No model is called \(description.id)")
        }
    }

    /// The live error of a model's `version` (nil: of the baseline, while no version was
    /// active) over the last `days`: its stored predictions whose outcome is known, against it,
    /// and the baseline's on the same rows.
    /// - Parameter userID: whose predictions: a user sees how the models did on their own videos.
    public func liveError(_ id: String, version: Int?, userID: String, days: Int? = nil) async throws -> LiveError {
        let days = days ?? Self.description(id)?.liveWindowDays ?? 7
        let version = version.map { Int32(clamping: $0) }
        switch id {
        case CostEstimator.id:
            return try await finishedVideosError(id, version: version, userID: userID, days: days, outcome: "v.spent / 1e6")
        case ETAEstimator.id:
            return try await finishedVideosError(id, version: version, userID: userID, days: days,
                                                 outcome: "extract(epoch FROM v.finished_at - v.created_at)")
        case ViewsForecast.id:
            // A forecast is resolved once the analytics cover every day of its video's horizon.
            let rows = try await client.query("""
                WITH p AS (
                    SELECT regexp_replace(subject, '@(7|30)$', '') AS video_id, substring(subject FROM '@(7|30)$')::int4 AS horizon, predicted,
                           baseline
                      FROM ml_predictions
                     WHERE model_id = \(id) AND version IS NOT DISTINCT FROM \(version) AND subject ~ '@(7|30)$'
                       AND created_at >= now() - make_interval(days => \(Int32(clamping: days))))
                SELECT count(*), count(a.actual), avg(abs(p.predicted - a.actual)), avg(abs(p.baseline - a.actual))
                  FROM p
                  LEFT JOIN LATERAL (
                       SELECT sum(d.views)::float8 AS actual
                         FROM videos v
                        CROSS JOIN LATERAL (SELECT (v.published_at AT TIME ZONE 'America/Los_Angeles')::date AS day0) z
                         JOIN video_analytics_daily d ON d.video_id = v.id AND d.day >= z.day0 AND d.day < z.day0 + p.horizon
                        WHERE v.id = p.video_id AND v.user_id = \(userID) AND v.published_at IS NOT NULL
                       HAVING count(*) = p.horizon) a ON true
                 WHERE EXISTS (SELECT 1 FROM videos o WHERE o.id = p.video_id AND o.user_id = \(userID))
                """, logger: logger)
            return try await Self.liveError(rows, days: days)
        default:
            throw DomainError(.notFound, "No model is called \(id)")
        }
    }

    /// The live error of a model whose subject is a video and whose outcome is known once it
    /// finished: `outcome` (SQL over `v`, the video) against each prediction.
    private func finishedVideosError(_ id: String, version: Int32?, userID: String, days: Int, outcome: String) async throws -> LiveError {
        let rows = try await client.query("""
            SELECT count(*),
                   count(*) FILTER (WHERE v.status IN ('completed', 'published')),
                   avg(abs(p.predicted - \(unescaped: outcome))) FILTER (WHERE v.status IN ('completed', 'published')),
                   avg(abs(p.baseline - \(unescaped: outcome))) FILTER (WHERE v.status IN ('completed', 'published'))
              FROM ml_predictions p JOIN videos v ON v.id = p.subject AND v.user_id = \(userID)
             WHERE p.model_id = \(id) AND p.version IS NOT DISTINCT FROM \(version)
               AND p.created_at >= now() - make_interval(days => \(Int32(clamping: days)))
            """, logger: logger)
        return try await Self.liveError(rows, days: days)
    }

    /// Reads (predictions, resolved, MAE, baseline MAE) from a live-error query.
    private static func liveError(_ rows: PostgresRowSequence, days: Int) async throws -> LiveError {
        for try await (count, resolved, mae, baseline) in rows.decode((Int64, Int64, Double?, Double?).self) {
            return LiveError(windowDays: days, predictions: Int(count), resolved: Int(resolved), mae: mae, baselineMAE: baseline)
        }
        return LiveError(windowDays: days, predictions: 0, resolved: 0, mae: nil, baselineMAE: nil)
    }
}

/// The last thousand prediction latencies of each model in this process.
public actor PredictionLatencies {
    private var samples: [String: [Duration]] = [:]

    public init() {}

    func record(_ id: String, _ latency: Duration) {
        var kept = samples[id, default: []]
        kept.append(latency)
        if kept.count > 1000 { kept.removeFirst(kept.count - 1000) }
        samples[id] = kept
    }

    /// p50 and p99 in milliseconds, and how many samples they come from.
    public func percentiles(_ id: String) -> (count: Int, p50: Double?, p99: Double?) {
        let sorted = (samples[id] ?? []).map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }.sorted()
        guard !sorted.isEmpty else { return (0, nil, nil) }
        func at(_ share: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * share).rounded(.up)) - 1)] }
        return (sorted.count, at(0.5), at(0.99))
    }
}

extension CostEstimator.Options {
    /// The options of a video request, with the price table's estimate for it.
    public init(_ request: VideoRequest, worstCase: Money) {
        self.init(durationTarget: request.durationTarget, qualityThreshold: request.qualityThreshold, scriptStyle: request.scriptStyle,
                  thumbnailStyle: request.thumbnailStyle, voiceID: request.voiceID, keywords: request.keywords.count,
                  titleLength: request.title.count, worstCase: worstCase)
    }
}
