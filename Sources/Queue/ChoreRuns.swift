import Foundation
import Logging
import PostgresNIO

/// One chore's latest run, as `chore_runs` keeps it.
public struct ChoreRun: Sendable, Equatable {
    public var name: String
    /// The leader that ran it.
    public var leaderID: String
    public var lastRunAt: Date
    public var durationMilliseconds: Int
    public var rowsChanged: Int
    /// The last failure, kept until a later one replaces it.
    public var lastError: String?
    public var lastErrorAt: Date?
}

/// Where the leader records its chores' runs (`Maintainer`), for operators to see.
public struct ChoreRunStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Records a run of `name` by `leaderID`; `error` set: it failed.
    public func record(_ name: String, leaderID: String, duration: Duration, rows: Int, error: String?) async throws {
        let milliseconds = Int32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        try await client.query("""
            INSERT INTO chore_runs (name, leader_id, last_run_at, duration_ms, rows_changed, last_error, last_error_at)
            VALUES (\(name), \(leaderID), now(), \(milliseconds), \(Int64(rows)), \(error), CASE WHEN \(error)::text IS NULL THEN NULL ELSE now() END)
            ON CONFLICT (name) DO UPDATE SET leader_id = EXCLUDED.leader_id, last_run_at = EXCLUDED.last_run_at,
                duration_ms = EXCLUDED.duration_ms, rows_changed = EXCLUDED.rows_changed,
                last_error = coalesce(EXCLUDED.last_error, chore_runs.last_error),
                last_error_at = coalesce(EXCLUDED.last_error_at, chore_runs.last_error_at)
            """, logger: logger)
    }

    /// Every chore's latest run, by name.
    public func all() async throws -> [ChoreRun] {
        let rows = try await client.query("""
            SELECT name, leader_id, last_run_at, duration_ms, rows_changed, last_error, last_error_at FROM chore_runs ORDER BY name
            """, logger: logger)
        var runs: [ChoreRun] = []
        for try await (name, leader, at, duration, changed, error, errorAt) in rows.decode((String, String, Date, Int32, Int64, String?, Date?).self) {
            runs.append(ChoreRun(name: name, leaderID: leader, lastRunAt: at, durationMilliseconds: Int(duration), rowsChanged: Int(changed),
                                 lastError: error, lastErrorAt: errorAt))
        }
        return runs
    }
}
