import Foundation

/// Held-out error of a regressor (or a baseline) on the same rows.
public struct RegressionMetrics: Codable, Sendable, Equatable {
    /// Mean absolute error, in the target's unit.
    public var mae: Double
    /// Mean absolute percentage error over the rows whose actual value is not zero; nil when
    /// every actual value is zero.
    public var mape: Double?
    /// The coefficient of determination; nil when the actual values do not vary.
    public var r2: Double?
    /// Rows measured.
    public var count: Int

    public init(mae: Double, mape: Double?, r2: Double?, count: Int) {
        self.mae = mae
        self.mape = mape
        self.r2 = r2
        self.count = count
    }

    /// The metrics of `predicted` against `actual` (same length).
    public static func of(predicted: [Double], actual: [Double]) -> RegressionMetrics {
        let pairs = Array(zip(predicted, actual))
        guard !pairs.isEmpty else { return RegressionMetrics(mae: 0, mape: nil, r2: nil, count: 0) }
        let n = Double(pairs.count)
        let mae = pairs.reduce(0) { $0 + abs($1.0 - $1.1) } / n
        let nonZero = pairs.filter { $0.1 != 0 }
        let mape = nonZero.isEmpty ? nil : nonZero.reduce(0) { $0 + abs(($1.0 - $1.1) / $1.1) } / Double(nonZero.count)
        let mean = actual.reduce(0, +) / n
        let total = actual.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let residual = pairs.reduce(0) { $0 + ($1.1 - $1.0) * ($1.1 - $1.0) }
        return RegressionMetrics(mae: mae, mape: mape, r2: total > 0 ? 1 - residual / total : nil, count: pairs.count)
    }
}

/// A split-conformal interval: `prediction ± quantile`, which covers the truth with
/// probability at least `1 - alpha` when calibration and new rows are exchangeable.
public struct ConformalInterval: Codable, Sendable, Equatable {
    public var alpha: Double
    /// q̂: the ⌈(n+1)(1−α)⌉-th smallest absolute residual of the calibration rows.
    public var quantile: Double
    public var calibrationCount: Int
    /// An upper bound only: the range is [prediction, prediction + quantile].
    public var upperOnly: Bool?

    /// Calibrates from the absolute residuals of rows the model never saw; nil when there are
    /// too few for a finite interval (n < 1/α − 1).
    public static func calibrate(residuals: [Double], alpha: Double) -> ConformalInterval? {
        let scores = residuals.map(abs).sorted()
        let n = scores.count
        guard alpha > 0, alpha < 1, n > 0 else { return nil }
        let rank = Int((Double(n + 1) * (1 - alpha)).rounded(.up))
        guard rank <= n else { return nil }
        return ConformalInterval(alpha: alpha, quantile: scores[max(0, rank - 1)], calibrationCount: n)
    }

    /// Calibrates an upper bound only: q̂ from the signed residuals `actual − predicted`, so
    /// that `prediction + quantile` is above the truth with probability at least `1 - alpha`
    /// (a p90 with alpha 0.1).
    public static func calibrateUpper(residuals: [Double], alpha: Double) -> ConformalInterval? {
        let scores = residuals.sorted()
        let n = scores.count
        guard alpha > 0, alpha < 1, n > 0 else { return nil }
        let rank = Int((Double(n + 1) * (1 - alpha)).rounded(.up))
        guard rank <= n else { return nil }
        return ConformalInterval(alpha: alpha, quantile: scores[max(0, rank - 1)], calibrationCount: n, upperOnly: true)
    }

    /// The share of `actual` values at or below their predictions' upper bounds.
    public func upperCoverage(predicted: [Double], actual: [Double]) -> Double {
        let pairs = Array(zip(predicted, actual))
        guard !pairs.isEmpty else { return 0 }
        return Double(pairs.filter { $0.1 <= $0.0 + quantile }.count) / Double(pairs.count)
    }

    /// The interval around a prediction.
    public func interval(around prediction: Double) -> (low: Double, high: Double) {
        upperOnly == true ? (prediction, prediction + max(0, quantile)) : (prediction - quantile, prediction + quantile)
    }

    /// The share of `actual` values inside their predictions' intervals.
    public func coverage(predicted: [Double], actual: [Double]) -> Double {
        let pairs = Array(zip(predicted, actual))
        guard !pairs.isEmpty else { return 0 }
        return Double(pairs.filter { abs($0.1 - $0.0) <= quantile }.count) / Double(pairs.count)
    }
}

/// A time-ordered split: the oldest rows train, the most recent test (and, for intervals, the
/// rows between calibrate), so a model is always measured on what came after what it learnt.
public struct TimeSplit<Row> {
    public var train: [Row]
    public var calibration: [Row]
    public var test: [Row]

    /// - Parameters:
    ///   - rows: oldest first.
    ///   - testShare: the most recent share held out for the test.
    ///   - calibrationShare: the share before it held out for the interval.
    public init(_ rows: [Row], testShare: Double = 0.2, calibrationShare: Double = 0) {
        let testCount = Int((Double(rows.count) * testShare).rounded(.up))
        let calibrationCount = Int((Double(rows.count) * calibrationShare).rounded(.up))
        let trainEnd = max(0, rows.count - testCount - calibrationCount)
        train = Array(rows[..<trainEnd])
        calibration = Array(rows[trainEnd..<max(trainEnd, rows.count - testCount)])
        test = Array(rows[max(trainEnd, rows.count - testCount)...])
    }
}
