import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that deletes finished deliveries past their retention.
public struct WebhookPruner: MaintenanceTask {
    public let store: WebhookDeliveryStore
    public let retention: Duration
    public let interval: Duration
    public var name: String { "webhook-pruner" }

    public init(store: WebhookDeliveryStore, retention: Duration = .seconds(30 * 86_400), interval: Duration = .seconds(600)) {
        self.store = store
        self.retention = retention
        self.interval = interval
    }

    public func runOnce() async throws -> Int { try await store.prune(olderThan: retention) }
}
