import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Training as queue jobs (`ml.train` for one model, `ml.train.all` for every model, on the
/// `ml` queue): each run records a new version in the registry, active only when it beats its
/// baseline on held-out rows.
public struct ModelJobs: Sendable {
    public let registry: ModelRegistry
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, storage: any ArtifactStorage, logger: Logger) {
        self.client = client
        self.registry = ModelRegistry(client: client, storage: storage, logger: logger)
        self.logger = logger
    }

    /// The models this build trains.
    public static let modelIDs = [CostEstimator.id, ETAEstimator.id, ViewsForecast.id]

    public func register(into registry: inout JobRegistry) {
        registry.register(TrainModelArgs.kind, timeout: .seconds(1800)) { context in
            let args = try context.args(TrainModelArgs.self)
            guard Self.modelIDs.contains(args.modelID) else { return .cancel("no model is called \(args.modelID)") }
            _ = try await train(args.modelID)
            return .completed
        }
        registry.register(TrainModelArgs.allKind, timeout: .seconds(3600)) { _ in
            for id in Self.modelIDs { _ = try await train(id) }
            return .completed
        }
    }

    /// Trains `modelID` on what the database holds now and records the version.
    public func train(_ modelID: String) async throws -> ModelVersion {
        let trained: TrainedModel
        switch modelID {
        case CostEstimator.id: trained = try await CostEstimator(client: client, logger: logger).train()
        case ETAEstimator.id: trained = try await ETAEstimator(client: client, logger: logger).train()
        case ViewsForecast.id: trained = try await ViewsForecast(client: client, logger: logger).train()
        default: throw DomainError(.notFound, "No model is called \(modelID)")
        }
        let version = try await registry.record(trained)
        logger.info("model trained", metadata: [
            "model": "\(modelID)", "version": "\(version.version)", "status": "\(version.status.rawValue)",
            "mae": "\(version.metrics.model.mae)", "baseline_mae": "\(version.metrics.baseline.mae)",
        ])
        return version
    }
}
