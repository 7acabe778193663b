import Foundation

/// One example: the features a model takes, what really happened, and what the baseline
/// said for it.
public struct Example: Sendable {
    public var features: [Double]
    public var actual: Double
    public var baseline: Double
    /// When it happened: examples are split by time.
    public var at: Date

    public init(features: [Double], actual: Double, baseline: Double, at: Date) {
        self.features = features
        self.actual = actual
        self.baseline = baseline
        self.at = at
    }
}

/// Trains a regressor the same way for every model: examples in time order, the oldest to
/// train, the most recent to test (and those before them to calibrate an interval), fixed
/// parameters and seed, the model and its baseline measured on the same test rows.
public struct RegressionTrainer: Sendable {
    public var modelID: String
    public var features: [FeatureDefinition]
    public var parameters: [String: String]
    public var rounds: Int
    /// Fewer examples than this: no model, the baseline stays.
    public var minimumExamples: Int
    /// The interval's miscoverage (0.1: a 90% interval); nil: no interval.
    public var intervalAlpha: Double?
    /// An upper bound only (`prediction + q̂` above the truth with probability 1 − alpha)
    /// instead of a two-sided interval.
    public var upperBoundOnly: Bool

    public init(modelID: String, features: [FeatureDefinition], parameters: [String: String], rounds: Int, minimumExamples: Int,
                intervalAlpha: Double? = nil, upperBoundOnly: Bool = false) {
        self.upperBoundOnly = upperBoundOnly
        self.modelID = modelID
        self.features = features
        self.parameters = parameters
        self.rounds = rounds
        self.minimumExamples = minimumExamples
        self.intervalAlpha = intervalAlpha
    }

    public func train(_ examples: [Example]) throws -> TrainedModel {
        let started = ContinuousClock.now
        let ordered = Self.inTimeOrder(examples)
        let split = TimeSplit(ordered, testShare: 0.2, calibrationShare: intervalAlpha == nil ? 0 : 0.2)
        guard examples.count >= minimumExamples, !split.train.isEmpty, !split.test.isEmpty else {
            return refused(split, window: (ordered.first?.at, ordered.last?.at),
                           reason: "too little history: \(examples.count) examples, \(minimumExamples) needed; the baseline stays in use")
        }
        var parameters = parameters
        // XGBoost 1.7 starts from base_score 0.5 whatever the labels: start from their mean.
        if parameters["base_score"] == nil {
            parameters["base_score"] = String(split.train.map(\.actual).reduce(0, +) / Double(split.train.count))
        }
        let booster = try Booster.train(rows: split.train.map(\.features), labels: split.train.map(\.actual), featureCount: features.count,
                                        parameters: parameters, rounds: rounds)
        let actual = split.test.map(\.actual)
        let predicted = try booster.predict(split.test.map(\.features))
        var metrics = ModelMetrics(model: .of(predicted: predicted, actual: actual), baseline: .of(predicted: split.test.map(\.baseline), actual: actual))
        var refusal: String?
        if let alpha = intervalAlpha {
            let calibrated = try booster.predict(split.calibration.map(\.features))
            if upperBoundOnly {
                let residuals = zip(split.calibration.map(\.actual), calibrated).map { $0 - $1 }
                metrics.interval = ConformalInterval.calibrateUpper(residuals: residuals, alpha: alpha)
                metrics.coverage = metrics.interval?.upperCoverage(predicted: predicted, actual: actual)
            } else {
                let residuals = zip(calibrated, split.calibration.map(\.actual)).map { $0 - $1 }
                metrics.interval = ConformalInterval.calibrate(residuals: residuals, alpha: alpha)
                metrics.coverage = metrics.interval?.coverage(predicted: predicted, actual: actual)
            }
            if metrics.interval == nil { refusal = "too few calibration rows for a finite interval" }
        }
        let artifact = try booster.serialized()
        let elapsed = (ContinuousClock.now - started).components
        return TrainedModel(modelID: modelID, parameters: parameters, features: features, trainingFrom: ordered.first?.at,
                            trainingTo: ordered.last?.at, trainingRows: split.train.count, calibrationRows: split.calibration.count,
                            testRows: split.test.count, metrics: metrics, artifact: artifact,
                            trainingMilliseconds: Int(elapsed.seconds) * 1000 + Int(elapsed.attoseconds / 1_000_000_000_000_000),
                            refusal: refusal)
    }

    /// Oldest first; examples of the same instant keep their order.
    static func inTimeOrder(_ examples: [Example]) -> [Example] {
        let indexed = Array(examples.enumerated())
        return indexed.sorted { left, right in
            left.element.at != right.element.at ? left.element.at < right.element.at : left.offset < right.offset
        }.map(\.element)
    }

    /// What a run that could not train records: the baseline's error on what would have been
    /// the test rows, and why.
    func refused(_ split: TimeSplit<Example>, window: (Date?, Date?), reason: String) -> TrainedModel {
        let baseline = RegressionMetrics.of(predicted: split.test.map(\.baseline), actual: split.test.map(\.actual))
        return TrainedModel(modelID: modelID, parameters: parameters, features: features, trainingFrom: window.0, trainingTo: window.1,
                            trainingRows: split.train.count, calibrationRows: split.calibration.count, testRows: split.test.count,
                            metrics: ModelMetrics(model: .of(predicted: [], actual: []), baseline: baseline),
                            artifact: nil, trainingMilliseconds: 0, refusal: reason)
    }
}

/// A stable number for a category (FNV-1a of its UTF-8, folded below 2^20 so float32 keeps
/// it exact): the same text gives the same code in every process and every version.
public func categoryCode(_ text: String) -> Double {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01b3
    }
    return Double(hash % (1 << 20))
}
