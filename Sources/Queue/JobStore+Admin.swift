import Foundation
import PostgresNIO

/// Operator statements: look jobs up, cancel them, retry them.
extension JobStore {
    /// The job with this id, or nil.
    public func job(id: Int64) async throws -> Job? {
        let rows = try await client.query("SELECT \(unescaped: Job.columnList) FROM jobs WHERE id = \(id)", logger: logger)
        for try await row in rows { return try Job(row: row) }
        return nil
    }

    /// Jobs, newest first, optionally filtered by queue, state and kind.
    public func jobs(queue: String? = nil, state: JobState? = nil, kind: String? = nil, limit: Int = 50) async throws -> [Job] {
        let rows = try await client.query("""
            SELECT \(unescaped: Job.columnList) FROM jobs
             WHERE (\(queue)::text IS NULL OR queue = \(queue))
               AND (\(state?.rawValue)::text IS NULL OR state = \(state?.rawValue))
               AND (\(kind)::text IS NULL OR kind = \(kind))
             ORDER BY id DESC LIMIT \(Int32(max(1, min(limit, 10_000))))
            """, logger: logger)
        var jobs: [Job] = []
        for try await row in rows { jobs.append(try Job(row: row)) }
        return jobs
    }

    /// Counts of jobs per state for the given ids (a batch's jobs, say).
    public func stateCounts(ids: [Int64]) async throws -> [JobState: Int] {
        let rows = try await client.query(
            "SELECT state, count(*) FROM jobs WHERE id = ANY(\(ids)) GROUP BY state", logger: logger)
        var counts: [JobState: Int] = [:]
        for try await (state, count) in rows.decode((String, Int64).self) {
            counts[try DatabaseValue.decode(state, column: "jobs.state", as: JobState.self)] = Int(count)
        }
        return counts
    }

    /// Cancels a job: a waiting job is cancelled at once; a running one is marked
    /// `cancel_requested_at` and its worker is told over NOTIFY (and again by its next
    /// heartbeat, should the notification be lost).
    /// - Returns: the job's state after the request (`cancelled`, or `running` while its
    ///   handler stops), or nil when no such job exists.
    /// - Throws: `invalidState` when the job already finished.
    @discardableResult
    public func cancel(id: Int64, on executor: (any PostgresExecutor)? = nil) async throws -> JobState? {
        if let state = try await cancelReturningStates(ids: [id], on: executor)[id] { return state }
        guard let job = try await job(id: id, on: executor) else { return nil }
        throw QueueError(.invalidState, "job \(id) is already \(job.state.rawValue)")
    }

    /// Cancels many jobs in one statement (waiting ones at once, running ones by request).
    /// Already finished jobs are left alone.
    /// - Returns: how many jobs were cancelled or asked to stop.
    @discardableResult
    public func cancel(ids: [Int64], on executor: (any PostgresExecutor)? = nil) async throws -> Int {
        try await cancelReturningStates(ids: ids, on: executor).count
    }

    /// The cancel statement; returns each changed job's state as the statement left it
    /// (`cancelled`, or `running` for a job whose worker was asked to stop it).
    private func cancelReturningStates(ids: [Int64], on executor: (any PostgresExecutor)?) async throws -> [Int64: JobState] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await (executor ?? client).run("""
            WITH changed AS (
                UPDATE jobs
                   SET state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
                       cancel_requested_at = coalesce(cancel_requested_at, now()),
                       finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END
                 WHERE id = ANY(\(ids)) AND state IN ('available', 'scheduled', 'retryable', 'running')
                   AND (state <> 'running' OR cancel_requested_at IS NULL)
                RETURNING id, state
            ), notified AS (
                SELECT count(pg_notify(\(NotificationChannel.control), 'cancel:' || id)) AS n FROM changed WHERE state = 'running'
            )
            SELECT changed.id, changed.state FROM changed, notified
            """, logger: logger)
        var states: [Int64: JobState] = [:]
        for try await (id, state) in rows.decode((Int64, String).self) {
            states[id] = try DatabaseValue.decode(state, column: "jobs.state")
        }
        return states
    }

    /// Unfinished jobs inserted with `owner` (`NewJob.owner`), so an owner's work can be found
    /// and cancelled.
    public func unfinishedJobIDs(ownedBy owner: String, on executor: (any PostgresExecutor)? = nil) async throws -> [Int64] {
        let rows = try await (executor ?? client).run("""
            SELECT id FROM jobs WHERE owner = \(owner) AND state IN ('available', 'scheduled', 'retryable', 'running')
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        return ids
    }

    /// Puts a finished or waiting job back to `available` to run now. A job that used up
    /// its attempts gets one more.
    /// - Returns: the job after the change, or nil when no such job exists.
    /// - Throws: `invalidState` while the job is running, or when another job took its unique
    ///   key after it finished.
    public func retry(id: Int64) async throws -> Job? {
        let query: PostgresQuery = """
            WITH updated AS (
                UPDATE jobs SET state = 'available', run_at = now(), finished_at = NULL, cancel_requested_at = NULL,
                       worker_id = NULL, max_attempts = greatest(max_attempts, attempt + 1), rescues = 0
                 WHERE id = \(id) AND state <> 'running'
                RETURNING queue
            )
            SELECT count(pg_notify(\(NotificationChannel.jobs), queue)) FROM updated
            """
        var changed = false
        do {
            let rows = try await client.query(query, logger: logger)
            for try await count in rows.decode(Int64.self) { changed = count > 0 }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw QueueError(.invalidState, "job \(id) cannot run again: a newer job holds its unique key")
        }
        guard let job = try await job(id: id) else { return nil }
        if !changed { throw QueueError(.invalidState, "job \(id) is running; cancel it first") }
        return job
    }

    /// Makes scheduled or retryable jobs available now (their wait ended early), waking the
    /// workers of their queues. Jobs in other states are left alone.
    /// - Returns: how many jobs were made available.
    @discardableResult
    public func runNow(ids: [Int64]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let rows = try await client.query("""
            WITH updated AS (
                UPDATE jobs SET state = 'available', run_at = now()
                 WHERE id = ANY(\(ids)) AND state IN ('scheduled', 'retryable')
                RETURNING queue
            ), notified AS (
                SELECT count(pg_notify(\(NotificationChannel.jobs), queue)) FROM (SELECT DISTINCT queue FROM updated) q
            )
            SELECT count(*) FROM updated, notified
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    func job(id: Int64, on executor: (any PostgresExecutor)?) async throws -> Job? {
        let rows = try await (executor ?? client).run(
            "SELECT \(unescaped: Job.columnList) FROM jobs WHERE id = \(id)", logger: logger)
        for try await row in rows { return try Job(row: row) }
        return nil
    }
}
