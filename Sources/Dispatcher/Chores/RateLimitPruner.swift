import Domain
import Logging
import PostgresNIO
import Queue

/// Deletes rate-limit windows that ended more than a day ago.
public struct RateLimitPruner: MaintenanceTask {
    public let client: PostgresClient
    public let logger: Logger
    public let interval: Duration
    public var name: String { "rate-limit-pruner" }

    public init(client: PostgresClient, logger: Logger, interval: Duration = .seconds(300)) {
        self.client = client
        self.logger = logger
        self.interval = interval
    }

    public func runOnce() async throws -> Int {
        let rows = try await client.query("""
            WITH gone AS (DELETE FROM rate_limit_windows WHERE window_start < now() - interval '1 day' RETURNING 1)
            SELECT count(*) FROM gone
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
