import Foundation
import Logging
import PostgresNIO

/// A worker process as recorded in the `workers` table.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var queues: [String]
    public var startedAt: Date
    public var heartbeatAt: Date
}

/// The SQL of the worker registry.
public struct WorkerStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Records (or re-records) a worker and its queues.
    public func register(id: String, host: String, pid: Int, queues: [String]) async throws {
        try await client.query("""
            INSERT INTO workers (id, host, pid, queues) VALUES (\(id), \(host), \(Int32(pid)), \(queues)::text[])
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), queues = excluded.queues
            """, logger: logger)
    }

    /// Marks the worker alive now.
    public func heartbeat(id: String) async throws {
        try await client.query("UPDATE workers SET heartbeat_at = now() WHERE id = \(id)", logger: logger)
    }

    /// Removes the worker at a clean shutdown.
    public func deregister(id: String) async throws {
        try await client.query("DELETE FROM workers WHERE id = \(id)", logger: logger)
    }

    /// Every registered worker, oldest first.
    public func list() async throws -> [WorkerRecord] {
        let rows = try await client.query(
            "SELECT id, host, pid, queues, started_at, heartbeat_at FROM workers ORDER BY started_at, id", logger: logger)
        var result: [WorkerRecord] = []
        for try await (id, host, pid, queues, started, beat) in rows.decode((String, String, Int32, [String], Date, Date).self) {
            result.append(WorkerRecord(id: id, host: host, pid: Int(pid), queues: queues, startedAt: started, heartbeatAt: beat))
        }
        return result
    }

    /// Deletes workers whose last heartbeat is older than `silence`.
    /// - Returns: how many were removed.
    public func expire(silentFor silence: Duration) async throws -> Int {
        let rows = try await client.query("""
            WITH gone AS (DELETE FROM workers WHERE heartbeat_at < now() - make_interval(secs => \(silence.seconds)) RETURNING 1)
            SELECT count(*) FROM gone
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
