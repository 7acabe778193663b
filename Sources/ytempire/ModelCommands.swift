import ArgumentParser
import Domain
import Foundation
import Models
import Queue

/// `ytempire models …`: the ML models' registry, and training on demand.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models", abstract: "List the ML models' versions, and train one now.",
        subcommands: [List.self, Train.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every model's newest version: status, held-out error beside its baseline's.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let logger = try global.makeLogger()
            let storage = try PipelineSettings.fromEnvironment().storage()
            let versions = try await global.database().withClient { client in
                let registry = ModelRegistry(client: client, storage: storage, logger: logger)
                var found: [ModelVersion] = []
                for id in ModelJobs.modelIDs { if let latest = try await registry.latest(id) { found.append(latest) } }
                return found
            }
            let number = { (value: Double?) in value.map { String(format: "%.4g", $0) } ?? "-" }
            print(Table.render(
                header: ["model", "version", "status", "mae", "baseline_mae", "r2", "train/test rows", "trained_at", "reason"],
                rows: versions.map { version in
                    [version.modelID, String(version.version), version.status.rawValue, number(version.metrics.model.mae),
                     number(version.metrics.baseline.mae), number(version.metrics.model.r2), "\(version.trainingRows)/\(version.testRows)",
                     version.trainedAt.formatted(.iso8601), version.reason ?? "-"]
                }))
        }
    }

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train a model: queue an ml.train job for the workers, or with --here train in this process and print the result.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The model: \(ModelJobs.modelIDs.joined(separator: ", ")).") var modelID: String
        @Flag(help: "Train in this process instead of queueing a job.") var here = false

        func validate() throws {
            guard ModelJobs.modelIDs.contains(modelID) else {
                throw ValidationError("no model is called \(modelID); the models are \(ModelJobs.modelIDs.joined(separator: ", "))")
            }
        }

        func run() async throws {
            let logger = try global.makeLogger()
            let storage = try PipelineSettings.fromEnvironment().storage()
            let modelID = modelID
            if here {
                let version = try await global.database().withClient { client in
                    try await ModelJobs(client: client, storage: storage, logger: logger).train(modelID)
                }
                print("\(modelID) v\(version.version): \(version.status.rawValue); held-out MAE \(version.metrics.model.mae) "
                      + "against the baseline's \(version.metrics.baseline.mae) on \(version.testRows) rows, "
                      + "trained on \(version.trainingRows) in \(version.trainingMilliseconds) ms" + (version.reason.map { "; \($0)" } ?? ""))
                return
            }
            let inserted = try await global.database().withClient { client in
                try await JobStore(client: client, logger: logger).insert([try TrainModelArgs.job(modelID: modelID)])
            }
            print("queued \(TrainModelArgs.kind) for \(modelID) as job \(inserted.first.map { String($0.id) } ?? "-") on the \(TrainModelArgs.queue) queue")
        }
    }
}
