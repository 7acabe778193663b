import Foundation
import Logging
import PostgresNIO

/// One queue as operators see it.
public struct QueueSummary: Sendable, Equatable {
    public var name: String
    public var paused: Bool
    public var concurrencyLimit: Int?
    /// Jobs per state; states with no jobs are absent.
    public var counts: [JobState: Int]
    /// Seconds the oldest available job has waited, 0 when none waits.
    public var oldestAvailableAge: Double

    public func count(_ state: JobState) -> Int { counts[state] ?? 0 }
}

/// The SQL of the `queues` table: pause, resume, limits and the per-queue overview.
public struct QueueStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Makes sure rows exist for these queues (workers call it at start).
    public func ensure(_ names: [String]) async throws {
        try await client.query("""
            INSERT INTO queues (name) SELECT unnest(\(names)::text[]) ON CONFLICT (name) DO NOTHING
            """, logger: logger)
    }

    /// Every queue known from the `queues` table or from its jobs, with counts per state.
    public func list() async throws -> [QueueSummary] {
        try await summaries(named: nil)
    }

    /// The queues known from the `queues` table or from their jobs (only `name`'s when given),
    /// with counts per state.
    private func summaries(named name: String?) async throws -> [QueueSummary] {
        let rows = try await client.query("""
            WITH names AS (SELECT name FROM queues WHERE \(name)::text IS NULL OR name = \(name)
                           UNION SELECT DISTINCT queue FROM jobs WHERE \(name)::text IS NULL OR queue = \(name)),
            counts AS (SELECT queue, state, count(*) AS n FROM jobs WHERE \(name)::text IS NULL OR queue = \(name) GROUP BY queue, state),
            oldest AS (SELECT queue, extract(epoch FROM now() - min(run_at))::float8 AS age
                         FROM jobs WHERE state = 'available' AND (\(name)::text IS NULL OR queue = \(name)) GROUP BY queue)
            SELECT n.name, q.paused_at IS NOT NULL, q.concurrency_limit,
                   coalesce((SELECT string_agg(c.state || '=' || c.n, ',') FROM counts c WHERE c.queue = n.name), ''),
                   coalesce(o.age, 0)
              FROM names n
              LEFT JOIN queues q ON q.name = n.name
              LEFT JOIN oldest o ON o.queue = n.name
             ORDER BY n.name
            """, logger: logger)
        var result: [QueueSummary] = []
        for try await (name, paused, limit, counts, age) in rows.decode((String, Bool, Int32?, String, Double).self) {
            var parsed: [JobState: Int] = [:]
            for pair in counts.split(separator: ",") {
                let parts = pair.split(separator: "=")
                if parts.count == 2, let state = JobState(rawValue: String(parts[0])), let n = Int(parts[1]) {
                    parsed[state] = n
                }
            }
            result.append(QueueSummary(name: name, paused: paused, concurrencyLimit: limit.map(Int.init),
                                       counts: parsed, oldestAvailableAge: max(0, age)))
        }
        return result
    }

    /// The summary of one queue, or nil when it is unknown.
    public func summary(_ name: String) async throws -> QueueSummary? {
        try await summaries(named: name).first { $0.name == name }
    }

    /// Whether the queue is known: it has a row in `queues` or any job.
    public func exists(_ name: String) async throws -> Bool {
        let rows = try await client.query("""
            SELECT EXISTS (SELECT 1 FROM queues WHERE name = \(name)) OR EXISTS (SELECT 1 FROM jobs WHERE queue = \(name))
            """, logger: logger)
        for try await known in rows.decode(Bool.self) { return known }
        return false
    }

    /// Stops every worker claiming from the queue; claims check it in the same statement, and
    /// workers are told at once over NOTIFY.
    public func pause(_ name: String) async throws {
        try await setPaused(name, paused: true)
    }

    /// Lets workers claim from the queue again, and wakes them.
    public func resume(_ name: String) async throws {
        try await setPaused(name, paused: false)
    }

    private func setPaused(_ name: String, paused: Bool) async throws {
        guard QueueName.isValid(name) else {
            throw QueueError(.queueNotFound, "queue name '\(name)' is not valid")
        }
        let payload = (paused ? "pause:" : "resume:") + name
        try await client.query("""
            WITH upserted AS (
                INSERT INTO queues (name, paused_at) VALUES (\(name), CASE WHEN \(paused) THEN now() END)
                ON CONFLICT (name) DO UPDATE
                   SET paused_at = CASE WHEN \(paused) THEN coalesce(queues.paused_at, now()) END, updated_at = now()
                RETURNING name
            )
            SELECT pg_notify(\(NotificationChannel.control), \(payload)),
                   pg_notify(\(NotificationChannel.jobs), name)
              FROM upserted
            """, logger: logger)
    }

    /// Sets (or with nil removes) the most jobs of this queue running at once across all workers.
    public func setConcurrencyLimit(_ name: String, limit: Int?) async throws {
        if let limit, limit < 1 {
            throw QueueError(.invalidConfiguration, "a concurrency limit must be at least 1")
        }
        try await client.query("""
            INSERT INTO queues (name, concurrency_limit) VALUES (\(name), \(limit.map(Int32.init)))
            ON CONFLICT (name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit, updated_at = now()
            """, logger: logger)
    }

    /// How many jobs of the queue are running now, anywhere.
    public func runningCount(_ name: String) async throws -> Int {
        let rows = try await client.query(
            "SELECT count(*) FROM jobs WHERE queue = \(name) AND state = 'running'", logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

extension QueueStore {
    /// Drains a queue: pauses it (no worker claims from it any more), then reports the
    /// number of its running jobs as it falls, returning once it reaches zero.
    /// - Parameters:
    ///   - pollInterval: how often the count is read. Default 250 ms.
    ///   - progress: called with each count read, the last one 0.
    public func drain(_ name: String, pollInterval: Duration = .milliseconds(250), progress: (Int) -> Void) async throws {
        try await pause(name)
        var last = -1
        while true {
            let count = try await runningCount(name)
            if count != last { progress(count) }
            last = count
            if count == 0 { return }
            try await Task.sleep(for: pollInterval)
        }
    }
}

/// What one queue did lately.
public struct QueueActivity: Sendable, Equatable {
    /// Jobs that completed.
    public var completed: Int
    /// Attempts that failed (the job waits to retry or was given up).
    public var failed: Int
}

extension QueueStore {
    /// Per queue, what finished over the last `minutes`: completions by their finish time,
    /// failures by the time of the attempt that failed.
    public func activity(minutes: Int) async throws -> [String: QueueActivity] {
        let rows = try await client.query("""
            SELECT queue,
                   count(*) FILTER (WHERE state = 'completed' AND finished_at >= now() - make_interval(mins => \(Int32(clamping: minutes)))),
                   count(*) FILTER (WHERE state IN ('retryable', 'discarded') AND attempted_at >= now() - make_interval(mins => \(Int32(clamping: minutes))))
              FROM jobs
             WHERE (state = 'completed' AND finished_at >= now() - make_interval(mins => \(Int32(clamping: minutes))))
                OR (state IN ('retryable', 'discarded') AND attempted_at >= now() - make_interval(mins => \(Int32(clamping: minutes))))
             GROUP BY queue
            """, logger: logger)
        var activity: [String: QueueActivity] = [:]
        for try await (queue, completed, failed) in rows.decode((String, Int64, Int64).self) {
            activity[queue] = QueueActivity(completed: Int(completed), failed: Int(failed))
        }
        return activity
    }
}
