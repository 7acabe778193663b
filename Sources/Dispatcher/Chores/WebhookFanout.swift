import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that turns outbox events into deliveries: woken by the outbox's NOTIFY
/// when events commit, and every `interval` in case a notification was lost.
public struct WebhookFanout: MaintenanceTask {
    public let store: WebhookDeliveryStore
    public let interval: Duration
    /// Events dispatched per transaction.
    public let batchSize: Int
    public var name: String { "webhook-fanout" }
    public var wakeChannel: String? { DomainEvents.outboxChannel }

    public init(store: WebhookDeliveryStore, interval: Duration = .seconds(5), batchSize: Int = 500) {
        self.store = store
        self.interval = interval
        self.batchSize = batchSize
    }

    /// Dispatches until the outbox is empty, a batch per transaction.
    public func runOnce() async throws -> Int {
        var total = 0
        while true {
            let dispatched = try await store.fanOut(limit: batchSize)
            total += dispatched
            if dispatched < batchSize { return total }
        }
    }
}
