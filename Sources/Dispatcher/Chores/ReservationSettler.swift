import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that ends reservations no attempt holds (see `settleAbandoned`).
public struct ReservationSettler: MaintenanceTask {
    public let ledger: CostLedger
    public let interval: Duration
    public var name: String { "reservation-settler" }

    public init(ledger: CostLedger, interval: Duration = .seconds(5)) {
        self.ledger = ledger
        self.interval = interval
    }

    public func runOnce() async throws -> Int { try await ledger.settleAbandoned() }
}
