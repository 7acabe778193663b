import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// The leader's chore that wakes publications waiting for a quota reset once it has come.
public struct QuotaResetWaker: MaintenanceTask {
    public let publications: PublicationStore
    public let interval: Duration
    public let now: @Sendable () -> Date
    public var name: String { "quota-reset-waker" }

    public init(publications: PublicationStore, interval: Duration = .seconds(30), now: @escaping @Sendable () -> Date = { Date() }) {
        self.publications = publications
        self.interval = interval
        self.now = now
    }

    public func runOnce() async throws -> Int { try await publications.wakeWaiting(now: now()) }
}
