import Foundation

/// One example: the features a model takes, what really happened, and what the baseline
/// said for it.
public struct Example: Sendable {
    public var features: [Double]
    public var actual: Double
    public var baseline: Double
    /// When it happened: examples are split by time.
    public var at: Date
    /// Rows of one group (a video's stages, a video's forecasts) are one example: split
    /// together, so that no video is in both the training and the test rows, and measured as
    /// the trainer's `groups` says. Nil: a row is an example alone.
    public var group: String?

    public init(features: [Double], actual: Double, baseline: Double, at: Date, group: String? = nil) {
        self.features = features
        self.actual = actual
        self.baseline = baseline
        self.at = at
        self.group = group
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
    /// The scale the booster learns its labels on; metrics and intervals are in the labels' own
    /// units whatever it is.
    public var labelScale: LabelScale
    /// How a group's rows are measured.
    public var groups: GroupMeasure

    /// How the rows of one example (a group) are measured on the test rows.
    public enum GroupMeasure: Sendable {
        /// By their sum: the rows are parts of one answer (a video's stages and its total).
        case sum
        /// Each row alone: the rows are separate answers about one subject (a video's forecasts).
        case each
    }

    public init(modelID: String, features: [FeatureDefinition], parameters: [String: String], rounds: Int, minimumExamples: Int,
                intervalAlpha: Double? = nil, upperBoundOnly: Bool = false, labelScale: LabelScale = .identity, groups: GroupMeasure = .sum) {
        self.groups = groups
        self.upperBoundOnly = upperBoundOnly
        self.labelScale = labelScale
        self.modelID = modelID
        self.features = features
        self.parameters = parameters
        self.rounds = rounds
        self.minimumExamples = minimumExamples
        self.intervalAlpha = intervalAlpha
    }

    /// Trains on `examples`; rows of one group count as one example (split together, measured
    /// as `groups` says), so `trainingRows`, `calibrationRows` and `testRows` and the minimum
    /// count examples.
    public func train(_ examples: [Example]) throws -> TrainedModel {
        let started = ContinuousClock.now
        let ordered = Self.inTimeOrder(examples)
        var split = TimeSplit(Self.units(ordered), testShare: 0.2, calibrationShare: intervalAlpha == nil ? 0 : 0.2)
        let counts = (train: split.train.count, calibration: split.calibration.count, test: split.test.count)
        if groups == .each {
            // Measured row by row: each row its own unit once the split is made.
            split.calibration = split.calibration.flatMap { $0.map { [$0] } }
            split.test = split.test.flatMap { $0.map { [$0] } }
        }
        let count = counts.train + counts.calibration + counts.test
        guard count >= minimumExamples, !split.train.isEmpty, !split.test.isEmpty else {
            return refused(split, counts: counts, window: (ordered.first?.at, ordered.last?.at),
                           reason: "too little history: \(count) examples, \(minimumExamples) needed; the baseline stays in use")
        }
        var parameters = parameters
        let rows = split.train.flatMap { $0 }
        let labels = rows.map { labelScale.forward($0.actual) }
        // XGBoost 1.7 starts from base_score 0.5 whatever the labels: start from their mean.
        if parameters["base_score"] == nil {
            parameters["base_score"] = String(labels.reduce(0, +) / Double(labels.count))
        }
        let booster = try Booster.train(rows: rows.map(\.features), labels: labels, featureCount: features.count,
                                        parameters: parameters, rounds: rounds)
        // Recorded with the version, not given to XGBoost: whoever loads it turns its outputs back.
        if labelScale != .identity { parameters[LabelScale.parameter] = labelScale.rawValue }
        // Each example's prediction: the sum of its rows'.
        let predict = { (units: [[Example]]) in
            Self.sums(try booster.predict(units.flatMap { $0.map(\.features) }).map(labelScale.inverse), sizes: units.map(\.count))
        }
        let actual = split.test.map { Self.sum($0.map(\.actual)) }
        let predicted = try predict(split.test)
        var metrics = ModelMetrics(model: .of(predicted: predicted, actual: actual),
                                   baseline: .of(predicted: split.test.map { Self.sum($0.map(\.baseline)) }, actual: actual))
        var refusal: String?
        if let alpha = intervalAlpha {
            let calibrated = try predict(split.calibration)
            let truth = split.calibration.map { Self.sum($0.map(\.actual)) }
            if upperBoundOnly {
                let residuals = zip(truth, calibrated).map { $0 - $1 }
                metrics.interval = ConformalInterval.calibrateUpper(residuals: residuals, alpha: alpha)
                metrics.coverage = metrics.interval?.upperCoverage(predicted: predicted, actual: actual)
            } else {
                let residuals = zip(calibrated, truth).map { $0 - $1 }
                metrics.interval = ConformalInterval.calibrate(residuals: residuals, alpha: alpha)
                metrics.coverage = metrics.interval?.coverage(predicted: predicted, actual: actual)
            }
            if metrics.interval == nil { refusal = "too few calibration rows for a finite interval" }
        }
        let artifact = try booster.serialized()
        let elapsed = (ContinuousClock.now - started).components
        return TrainedModel(modelID: modelID, parameters: parameters, features: features, trainingFrom: ordered.first?.at,
                            trainingTo: ordered.last?.at, trainingRows: counts.train, calibrationRows: counts.calibration,
                            testRows: counts.test, metrics: metrics, artifact: artifact,
                            trainingMilliseconds: Int(elapsed.seconds) * 1000 + Int(elapsed.attoseconds / 1_000_000_000_000_000),
                            refusal: refusal)
    }

    /// The examples of `rows` (in time order): each group's rows together, where the group
    /// first appears; an ungrouped row alone.
    static func units(_ rows: [Example]) -> [[Example]] {
        var units: [[Example]] = []
        var position: [String: Int] = [:]
        for row in rows {
            if let group = row.group, let index = position[group] {
                units[index].append(row)
            } else {
                if let group = row.group { position[group] = units.count }
                units.append([row])
            }
        }
        return units
    }

    /// `values` summed in consecutive runs of `sizes`.
    static func sums(_ values: [Double], sizes: [Int]) -> [Double] {
        runs(values, sizes: sizes).map { sum($0) }
    }

    /// `values` cut in consecutive runs of `sizes` (a run past the end is cut short, never a trap).
    static func runs(_ values: [Double], sizes: [Int]) -> [ArraySlice<Double>] {
        var runs: [ArraySlice<Double>] = []
        var start = 0
        for size in sizes {
            let from = min(values.count, start), to = min(values.count, start + max(0, size))
            runs.append(values[from..<to])
            start = to
        }
        return runs
    }

    /// A plain left-to-right sum (one value: that value, exactly).
    static func sum<C: Collection<Double>>(_ values: C) -> Double { values.reduce(0, +) }

    /// Oldest first; examples of the same instant keep their order.
    static func inTimeOrder(_ examples: [Example]) -> [Example] {
        let indexed = Array(examples.enumerated())
        return indexed.sorted { left, right in
            left.element.at != right.element.at ? left.element.at < right.element.at : left.offset < right.offset
        }.map(\.element)
    }

    /// What a run that could not train records: the baseline's error on what would have been
    /// the test rows, and why.
    func refused(_ split: TimeSplit<[Example]>, counts: (train: Int, calibration: Int, test: Int), window: (Date?, Date?),
                 reason: String) -> TrainedModel {
        let baseline = RegressionMetrics.of(predicted: split.test.map { Self.sum($0.map(\.baseline)) },
                                            actual: split.test.map { Self.sum($0.map(\.actual)) })
        return TrainedModel(modelID: modelID, parameters: parameters, features: features, trainingFrom: window.0, trainingTo: window.1,
                            trainingRows: counts.train, calibrationRows: counts.calibration, testRows: counts.test,
                            metrics: ModelMetrics(model: .of(predicted: [], actual: []), baseline: baseline),
                            artifact: nil, trainingMilliseconds: 0, refusal: reason)
    }
}

/// The scale a booster learns its labels on. Views span orders of magnitude, so
/// `views-forecast` learns `log1p(views)` and turns its outputs back with `expm1`.
public enum LabelScale: String, Sendable {
    case identity
    case log1p

    /// The key in a version's parameters that names its scale (absent: `identity`).
    public static let parameter = "label_scale"

    public func forward(_ value: Double) -> Double {
        switch self {
        case .identity: value
        case .log1p: Foundation.log1p(max(0, value))
        }
    }

    public func inverse(_ value: Double) -> Double {
        switch self {
        case .identity: value
        // exp of more than ~709 is infinite: no count of views is that large.
        case .log1p: Foundation.expm1(min(value, 50))
        }
    }
}

extension ModelVersion {
    /// The scale this version learnt its labels on.
    public var labelScale: LabelScale { parameters[LabelScale.parameter].flatMap(LabelScale.init(rawValue:)) ?? .identity }

    /// What this version (run by `booster`) predicts for `rows`, in its labels' own units.
    public func predict(_ booster: Booster, _ rows: [[Double]]) throws -> [Double] {
        try booster.predict(rows).map(labelScale.inverse)
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
