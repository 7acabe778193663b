import ArgumentParser
import Foundation
import Histogram
import Models

/// `ytempire bench models`: each model trained on a stated simulated history (no database):
/// its held-out error beside its baseline's, training time, and prediction latency for one
/// row and for a batch of a thousand.
struct BenchModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "Benchmark the ML models on a simulated history.")
    @Option(help: "Finished videos in the simulated history (SyntheticHistory).") var videos = 5000
    @Option(help: "The history's seed.") var seed: UInt64 = 42
    @Option(help: "Single-row predictions to time.") var predictions = 2000

    func validate() throws {
        guard (100...1_000_000).contains(videos), (1...1_000_000).contains(predictions) else {
            throw ValidationError("--videos must be 100 to 1000000 and --predictions 1 to 1000000")
        }
    }

    func run() async throws {
        let examples = SyntheticHistory.costExamples(count: videos, seed: seed)
        let started = ContinuousClock.now
        let trained = try CostEstimator.trainer.train(examples)
        let training = ContinuousClock.now - started
        guard let artifact = trained.artifact else { throw ValidationError(trained.refusal ?? "no model was trained") }
        let booster = try Booster(model: artifact)
        let rows = examples.suffix(1000).map(\.features)
        var single = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        for index in 0..<predictions {
            let row = rows[index % rows.count]
            let begin = ContinuousClock.now
            _ = try booster.predict([row])
            single.record(UInt64(max(0, (ContinuousClock.now - begin).microseconds)))
        }
        let batchStart = ContinuousClock.now
        _ = try booster.predict(Array(rows))
        let batch = ContinuousClock.now - batchStart
        let metrics = trained.metrics
        let number = { (value: Double?) in value.map { String(format: "%.4f", $0) } ?? "-" }
        print("ytempire bench models --videos \(videos) --seed \(seed) --predictions \(predictions)")
        print("data: SyntheticHistory, \(videos) finished videos; train \(trained.trainingRows), test (the newest) \(trained.testRows)")
        print(Table.render(
            header: ["model", "MAE", "baseline MAE", "MAPE", "baseline MAPE", "R²", "train ms", "predict 1 row p50/p99 µs", "predict 1000 rows ms"],
            rows: [[CostEstimator.id, number(metrics.model.mae), number(metrics.baseline.mae), number(metrics.model.mape),
                    number(metrics.baseline.mape), number(metrics.model.r2), String(training.microseconds / 1000),
                    "\(single.valueAtPercentile(50))/\(single.valueAtPercentile(99))", String(format: "%.2f", Double(batch.microseconds) / 1000)]]))
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
