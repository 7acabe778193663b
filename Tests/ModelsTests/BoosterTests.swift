import Foundation
@testable import Models
import Synchronization
import Testing

/// XGBoost through its C API: training is reproducible, a saved model predicts the same after
/// loading, bad input is an error and not a crash, and split-conformal intervals cover what
/// they promise on held-out rows.
@Suite struct BoosterTests {
    /// y = 3·x0 + 10·[x1 > 0.5] + noise, from a seeded generator.
    static func data(count: Int, seed: UInt64) -> (rows: [[Double]], labels: [Double]) {
        var generator = SeededGenerator(seed: seed)
        var rows: [[Double]] = []
        var labels: [Double] = []
        for _ in 0..<count {
            let x0 = Double.random(in: 0...10, using: &generator), x1 = Double.random(in: 0...1, using: &generator)
            rows.append([x0, x1])
            labels.append(3 * x0 + (x1 > 0.5 ? 10 : 0) + Double.random(in: -1...1, using: &generator))
        }
        return (rows, labels)
    }

    static let parameters = ["objective": "reg:squarederror", "eta": "0.1", "max_depth": "4", "base_score": "20", "tree_method": "exact"]

    @Test func trainingIsReproducibleAndASavedModelPredictsTheSame() throws {
        let (rows, labels) = Self.data(count: 400, seed: 7)
        let first = try Booster.train(rows: rows, labels: labels, featureCount: 2, parameters: Self.parameters, rounds: 60)
        let second = try Booster.train(rows: rows, labels: labels, featureCount: 2, parameters: Self.parameters, rounds: 60)
        #expect(try first.serialized() == second.serialized())
        let (test, truth) = Self.data(count: 100, seed: 8)
        let predicted = try first.predict(test)
        let metrics = RegressionMetrics.of(predicted: predicted, actual: truth)
        #expect(metrics.mae < 1.5 && (metrics.r2 ?? 0) > 0.95, "\(metrics)")
        let loaded = try Booster(model: try first.serialized())
        #expect(loaded.featureCount == 2)
        #expect(try loaded.predict(test) == predicted)
        // Bad input is an error, never a crash.
        #expect(throws: XGBoostError.self) { try loaded.predict([[1]]) }
        #expect(throws: XGBoostError.self) { try Booster(model: Data("not a model".utf8)) }
        #expect(throws: XGBoostError.self) {
            try Booster.train(rows: rows, labels: labels, featureCount: 2, parameters: ["objective": "reg:nonsense"], rounds: 1)
        }
        #expect(throws: XGBoostError.self) { try Booster.train(rows: [[1, 2]], labels: [.nan], featureCount: 2, parameters: [:], rounds: 1) }
        // Predictions from several threads at once agree.
        let results = Mutex<[[Double]]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let values = try? loaded.predict(test) { results.withLock { $0.append(values) } }
        }
        #expect(results.withLock { $0.count == 8 && $0.allSatisfy { $0 == predicted } })
    }

    @Test func conformalIntervalsCoverHeldOutRowsAsPromised() throws {
        let (rows, labels) = Self.data(count: 1500, seed: 11)
        let split = TimeSplit(Array(zip(rows, labels)), testShare: 0.4, calibrationShare: 0.2)
        let booster = try Booster.train(rows: split.train.map(\.0), labels: split.train.map(\.1), featureCount: 2,
                                        parameters: Self.parameters, rounds: 60)
        let calibration = try booster.predict(split.calibration.map(\.0))
        let interval = try #require(ConformalInterval.calibrate(residuals: zip(calibration, split.calibration.map(\.1)).map { $0 - $1 }, alpha: 0.1))
        let coverage = interval.coverage(predicted: try booster.predict(split.test.map(\.0)), actual: split.test.map(\.1))
        // 600 test rows: the promise is ≥ 0.9 (up to 1/(n+1) above); sampling error about ±0.012 per standard error.
        #expect(coverage >= 0.86 && coverage <= 0.96, "coverage \(coverage) with q̂ \(interval.quantile)")
        #expect(ConformalInterval.calibrate(residuals: [1, 2, 3], alpha: 0.1) == nil, "too few rows for a finite 90% interval")
    }

    @Test func metricsAreTheUsualOnes() {
        let metrics = RegressionMetrics.of(predicted: [1, 2, 3, 4], actual: [1, 2, 4, 4])
        #expect(metrics.mae == 0.25 && metrics.count == 4)
        #expect(abs((metrics.mape ?? 0) - 0.0625) < 1e-12)
        #expect(abs((metrics.r2 ?? 0) - (1 - 1 / 6.75)) < 1e-12)
        #expect(RegressionMetrics.of(predicted: [1], actual: [0]).mape == nil)
        let split = TimeSplit(Array(0..<10), testShare: 0.2, calibrationShare: 0.2)
        #expect(split.train == [0, 1, 2, 3, 4, 5] && split.calibration == [6, 7] && split.test == [8, 9])
    }
}
