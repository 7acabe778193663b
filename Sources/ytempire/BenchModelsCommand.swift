import ArgumentParser
import Domain
import Foundation
import Histogram
import Logging
import Models
import PostgresNIO
import Queue

/// `ytempire bench models`: each model trained on a stated simulated history: its held-out
/// error beside its baseline's, training time, and prediction latency for one row and for a
/// batch of a thousand. The cost estimator's and the views forecast's histories are built in
/// memory; the ETA model's is
/// written to the database (a scratch one: its features are rebuilt from every video there)
/// under a throwaway user, deleted afterwards.
struct BenchModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "Benchmark the ML models on simulated histories.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Finished videos in the cost history (SyntheticHistory.videos).") var videos = 5000
    @Option(help: "Videos through the simulated fleet for the ETA (SyntheticHistory.pipeline).") var pipelineVideos = 1000
    @Option(help: "Simulated channels for the views forecast (SyntheticHistory.publishedVideos), each publishing over a year.")
    var channels = 20
    @Option(help: "The histories' seed.") var seed: UInt64 = 42
    @Option(help: "Single-row predictions to time.") var predictions = 2000

    func validate() throws {
        guard (100...1_000_000).contains(videos), (100...20_000).contains(pipelineVideos), (1...1_000_000).contains(predictions),
              (1...1000).contains(channels) else {
            throw ValidationError("--videos must be 100 to 1000000, --pipeline-videos 100 to 20000, --channels 1 to 1000 and --predictions 1 to 1000000")
        }
    }

    struct Row {
        var model: String
        var data: String
        var trained: TrainedModel
        var training: Duration
        var single: Histogram<UInt64>
        var batch: Duration
    }

    func run() async throws {
        var benchLogger = try global.makeLogger("bench")
        if global.logLevel == nil { benchLogger.logLevel = .warning }
        let logger = benchLogger
        var rows = [try measure(CostEstimator.id, data: "\(videos) finished videos", examples: SyntheticHistory.costExamples(count: videos, seed: seed),
                                trainer: CostEstimator.trainer)]
        let database = try global.database()
        let (pipelineVideos, seed) = (pipelineVideos, seed)
        let examples = try await database.withClient(maximumConnections: 2) { client in
            try await Migrator(client: client, migrations: try Migration.all(), logger: logger).requireCurrent()
            return try await withBenchUser(client: client, name: "Bench models", logger: logger) { userID in
                let channel = try await ChannelRepository(client: client, logger: logger).create(userID: userID, ChannelChanges(name: "Bench")).id
                try await SyntheticHistory.insertPipeline(client: client, logger: logger, userID: userID, channelID: channel,
                                                          count: pipelineVideos, seed: seed)
                return try await ETAEstimator(client: client, logger: logger).examples()
            }
        }
        rows.append(try measure(ETAEstimator.id, data: "\(pipelineVideos) videos through a 2-slot fleet", examples: examples, trainer: ETAEstimator.trainer))
        let curves = SyntheticHistory.viewCurves(channels: channels, days: 365, seed: seed)
        rows.append(try measure(ViewsForecast.id, data: "\(curves.count) videos of \(channels) channels over a year",
                                examples: ViewsForecast.examples(curves), trainer: ViewsForecast.trainer))
        let number = { (value: Double?) in value.map { String(format: "%.4g", $0) } ?? "-" }
        print("ytempire bench models --videos \(videos) --pipeline-videos \(pipelineVideos) --channels \(channels) --seed \(seed) --predictions \(predictions)")
        print(Table.render(
            header: ["model", "data (SyntheticHistory)", "train/test rows", "MAE", "baseline MAE", "MAPE", "baseline MAPE", "R²", "p90 coverage",
                     "train ms", "1 row p50/p99 µs", "1000 rows ms"],
            rows: rows.map { row in
                let metrics = row.trained.metrics
                return [row.model, row.data, "\(row.trained.trainingRows)/\(row.trained.testRows)", number(metrics.model.mae), number(metrics.baseline.mae),
                        number(metrics.model.mape), number(metrics.baseline.mape), number(metrics.model.r2), number(metrics.coverage),
                        String(row.training.microseconds / 1000), "\(row.single.valueAtPercentile(50))/\(row.single.valueAtPercentile(99))",
                        String(format: "%.2f", Double(row.batch.microseconds) / 1000)]
            }))
    }

    func measure(_ model: String, data: String, examples: [Example], trainer: RegressionTrainer) throws -> Row {
        let started = ContinuousClock.now
        let trained = try trainer.train(examples)
        let training = ContinuousClock.now - started
        guard let artifact = trained.artifact else { throw ValidationError("\(model): \(trained.refusal ?? "no model was trained")") }
        let booster = try Booster(model: artifact)
        let rows = examples.suffix(1000).map(\.features)
        var single = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        for index in 0..<predictions {
            let begin = ContinuousClock.now
            _ = try booster.predict([rows[index % rows.count]])
            single.record(UInt64(max(0, (ContinuousClock.now - begin).microseconds)))
        }
        let batchStart = ContinuousClock.now
        _ = try booster.predict(Array(rows))
        return Row(model: model, data: data, trained: trained, training: training, single: single, batch: ContinuousClock.now - batchStart)
    }
}

extension Duration {
    /// Whole microseconds.
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
