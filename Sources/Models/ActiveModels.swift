import Foundation
import Logging
import Queue
import ServiceLifecycle

/// The active version of each model in this process: loaded from the registry on first use,
/// and loaded again when the registry announces a newly active version (`ModelRegistry.channel`)
/// or the listening connection was re-established (a notification may have been missed).
/// Predictions run outside the cache, on the booster it hands out.
public actor ActiveModels {
    public let registry: ModelRegistry
    private var loaded: [String: (version: ModelVersion, booster: Booster)?] = [:]
    /// Bumped by every invalidation: a load that started before one is used but not kept.
    private var generations: [String: Int] = [:]
    private var generation = 0

    public init(registry: ModelRegistry) {
        self.registry = registry
    }

    /// The active version of `modelID` and its booster; nil while the baseline is in use.
    public func model(_ modelID: String) async throws -> (version: ModelVersion, booster: Booster)? {
        if let known = loaded[modelID] { return known }
        let started = (generation, generations[modelID, default: 0])
        let fresh = try await registry.loadActive(modelID).map { (version: $0.0, booster: $0.1) }
        // A version trained before this build changed the model's features cannot be fed.
        if let fresh, let expected = ModelService.description(modelID)?.features, fresh.version.features.map(\.name) != expected.map(\.name) {
            throw XGBoostError(message: "\(modelID) v\(fresh.version.version) was trained on other features than this build computes: train it again")
        }
        // The actor was free while loading: keep it only if no invalidation came meanwhile.
        if started == (generation, generations[modelID, default: 0]) { loaded[modelID] = .some(fresh) }
        return fresh
    }

    /// Forgets what was loaded for `modelID` (every model when nil): the next use loads the
    /// active version again.
    public func invalidate(_ modelID: String?) {
        if let modelID {
            loaded[modelID] = nil
            generations[modelID, default: 0] += 1
        } else {
            loaded.removeAll()
            generation += 1
        }
    }
}

/// Keeps an `ActiveModels` current: every announcement of a newly active version empties the
/// model's entry, and a reconnection empties every entry.
public struct ActiveModelsReloader: Service {
    let models: ActiveModels
    let notifier: Notifier
    let logger: Logger

    public init(models: ActiveModels, notifier: Notifier, logger: Logger) {
        self.models = models
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        let events = notifier.subscribe(to: ModelRegistry.channel)
        await cancelWhenGracefulShutdown {
            for await event in events {
                switch event {
                case let .notification(modelID):
                    logger.info("a new model version is active; reloading", metadata: ["model": "\(modelID)"])
                    await models.invalidate(modelID)
                case .reconnected:
                    await models.invalidate(nil)
                }
            }
        }
    }
}
