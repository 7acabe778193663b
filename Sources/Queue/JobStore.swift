import Foundation
import Logging
import PostgresNIO

/// The SQL of the `jobs` table: one function per statement.
///
/// Statements that belong to a caller's unit of work (inserting a job beside a domain row)
/// take a `PostgresExecutor`, so they run on the caller's transaction when given one.
public struct JobStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Inserts one job; see `insert(_:on:)`.
    @discardableResult
    public func insert(_ job: NewJob, on executor: (any PostgresExecutor)? = nil) async throws -> InsertedJob {
        let results = try await insert([job], on: executor)
        guard let first = results.first else {
            throw QueueError(.invalidJob, "the insert returned no job")
        }
        return first
    }

    /// Inserts many jobs in one statement and wakes the workers of their queues (one NOTIFY
    /// per queue, sent when the transaction commits).
    ///
    /// A job whose `uniqueKey` already exists is not inserted: the existing job's id comes
    /// back with `inserted == false`, also for duplicates within the same call.
    /// - Parameter executor: a connection in the caller's transaction, or nil for the pool.
    /// - Returns: one result per job, in the order given.
    public func insert(_ jobs: [NewJob], on executor: (any PostgresExecutor)? = nil) async throws -> [InsertedJob] {
        guard !jobs.isEmpty else { return [] }
        for job in jobs { try job.validate() }
        let queues = jobs.map(\.queue)
        let kinds = jobs.map(\.kind)
        let args = jobs.map(\.args)
        let priorities = jobs.map { Int16($0.priority) }
        let maxAttempts = jobs.map { Int32($0.maxAttempts) }
        let runAts = jobs.map { $0.runAt?.timeIntervalSince1970 ?? 0 }
        let uniqueKeys = jobs.map { $0.uniqueKey ?? "" }
        let query: PostgresQuery = """
            WITH input AS (
                SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS id, t.*
                  FROM unnest(\(queues)::text[], \(kinds)::text[], \(args)::text[], \(priorities)::int2[],
                              \(maxAttempts)::int4[], \(runAts)::float8[], \(uniqueKeys)::text[])
                       WITH ORDINALITY AS t(queue, kind, args, priority, max_attempts, run_at, unique_key, ord)
            ), ins AS (
                INSERT INTO jobs (id, queue, kind, args, priority, max_attempts, run_at, state, unique_key)
                SELECT id, queue, kind, args::jsonb, priority, max_attempts,
                       CASE WHEN run_at = 0 THEN now() ELSE to_timestamp(run_at) END,
                       CASE WHEN run_at > extract(epoch FROM now()) THEN 'scheduled' ELSE 'available' END,
                       nullif(unique_key, '')
                  FROM input ORDER BY ord
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
                RETURNING id, unique_key, queue, state
            )
            SELECT coalesce(ins.id, dup.id, existing.id, 0), ins.id IS NOT NULL, input.unique_key,
                   (SELECT count(pg_notify(\(NotificationChannel.jobs), q.queue))
                      FROM (SELECT DISTINCT queue FROM ins WHERE state = 'available') q)
              FROM input
              LEFT JOIN ins ON ins.id = input.id
              LEFT JOIN LATERAL (SELECT d.id FROM ins d WHERE ins.id IS NULL AND input.unique_key <> ''
                                    AND d.unique_key = input.unique_key LIMIT 1) dup ON true
              LEFT JOIN jobs existing ON ins.id IS NULL AND input.unique_key <> '' AND existing.unique_key = input.unique_key
             ORDER BY input.ord
            """
        var results: [InsertedJob] = []
        var unresolved: [(index: Int, key: String)] = []
        results.reserveCapacity(jobs.count)
        let rows = try await (executor ?? client).run(query, logger: logger)
        for try await (id, inserted, key, _) in rows.decode((Int64, Bool, String, Int64).self) {
            if id == 0 { unresolved.append((results.count, key)) }
            results.append(InsertedJob(id: id, inserted: inserted))
        }
        // A competing transaction committed the same key while this statement waited on it:
        // its row was invisible to this statement's snapshot, so look it up once more.
        for (index, key) in unresolved {
            let again = try await (executor ?? client).run(
                "SELECT id FROM jobs WHERE unique_key = \(key)", logger: logger)
            for try await id in again.decode(Int64.self) { results[index].id = id }
        }
        return results
    }

    /// Claims up to `limit` available jobs of `queue` for `workerID` (see `queue_claim` in the
    /// migration: pause and concurrency limits are honoured there, in one round trip).
    public func claim(queue: String, workerID: String, limit: Int, lease: Duration) async throws -> [Job] {
        let rows = try await client.query("""
            SELECT \(unescaped: Job.columnList) FROM queue_claim(\(queue), \(workerID), \(Int32(limit)), make_interval(secs => \(lease.seconds)))
            """, logger: logger)
        var jobs: [Job] = []
        for try await row in rows { jobs.append(try Job(row: row)) }
        return jobs
    }

    /// Marks running jobs completed, many per statement. Only jobs still running under
    /// `workerID` change, so a job rescued from this worker is never completed twice.
    /// - Returns: the ids that were completed.
    public func complete(ids: [Int64], workerID: String) async throws -> [Int64] {
        guard !ids.isEmpty else { return [] }
        let rows = try await client.query("""
            UPDATE jobs SET state = 'completed', finished_at = now(), lease_until = NULL
             WHERE id = ANY(\(ids)) AND state = 'running' AND worker_id = \(workerID)
            RETURNING id
            """, logger: logger)
        var done: [Int64] = []
        done.reserveCapacity(ids.count)
        for try await id in rows.decode(Int64.self) { done.append(id) }
        return done
    }

    /// Completes one running job inside the caller's transaction, so a handler's own writes
    /// and the completion commit together.
    /// - Returns: false when the job is no longer running under `workerID`.
    public func complete(id: Int64, workerID: String, on executor: any PostgresExecutor) async throws -> Bool {
        let rows = try await executor.run("""
            UPDATE jobs SET state = 'completed', finished_at = now(), lease_until = NULL
             WHERE id = \(id) AND state = 'running' AND worker_id = \(workerID)
            RETURNING id
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Writes the outcome of an attempt that did not simply succeed: a retry, a discard, a
    /// snooze, a cancellation or a release at shutdown. Guarded like `complete`.
    /// - Returns: false when the job is no longer running under `workerID`.
    public func finish(id: Int64, workerID: String, transition: JobTransition) async throws -> Bool {
        let state = transition.state.rawValue
        let errorJSON = transition.error.map { "[\($0.json)]" } ?? "[]"
        let runAt = transition.runAt?.timeIntervalSince1970 ?? 0
        let refund: Int32 = transition.refundsAttempt ? 1 : 0
        let rows = try await client.query("""
            WITH updated AS (
                UPDATE jobs SET state = \(state),
                       run_at = CASE WHEN \(runAt)::float8 = 0 THEN run_at ELSE to_timestamp(\(runAt)::float8) END,
                       attempt = attempt - \(refund),
                       errors = errors || \(errorJSON)::jsonb,
                       lease_until = NULL,
                       worker_id = CASE WHEN \(state) IN ('available', 'scheduled', 'retryable') THEN NULL ELSE worker_id END,
                       finished_at = CASE WHEN \(state) IN ('completed', 'cancelled', 'discarded') THEN now() END
                 WHERE id = \(id) AND state = 'running' AND worker_id = \(workerID)
                RETURNING queue, state
            )
            SELECT count(*), (SELECT count(pg_notify(\(NotificationChannel.jobs), queue)) FROM updated WHERE state = 'available')
              FROM updated
            """, logger: logger)
        for try await (count, _) in rows.decode((Int64, Int64).self) { return count > 0 }
        return false
    }

    /// Extends the lease of this worker's running jobs.
    /// - Returns: for each job still held, whether an operator asked to cancel it. Jobs
    ///   missing from the answer were taken from this worker (rescued or finished elsewhere).
    public func extendLeases(ids: [Int64], workerID: String, lease: Duration) async throws -> [Int64: Bool] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await client.query("""
            UPDATE jobs SET lease_until = now() + make_interval(secs => \(lease.seconds))
             WHERE id = ANY(\(ids)) AND state = 'running' AND worker_id = \(workerID)
            RETURNING id, cancel_requested_at IS NOT NULL
            """, logger: logger)
        var held: [Int64: Bool] = [:]
        for try await (id, cancel) in rows.decode((Int64, Bool).self) { held[id] = cancel }
        return held
    }
}

extension Job {
    static let columnList = """
        id, queue, kind, args::text, state, priority::int4, attempt, max_attempts, run_at, lease_until, \
        worker_id, cancel_requested_at, unique_key, errors::text, created_at, attempted_at, finished_at
        """
}

extension Duration {
    /// The duration in seconds, for `make_interval(secs => …)`.
    public var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// The NOTIFY channels the queue speaks on.
public enum NotificationChannel {
    /// Payload: a queue name that has new available jobs.
    public static let jobs = "ytempire_jobs"
    /// Payload: `cancel:<job id>` or `pause:<queue>`, `resume:<queue>`.
    public static let control = "ytempire_job_control"
}
