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
        // A key repeated within the call is sent once; its repeats get the first one's job.
        var firstWithKey: [String: Int] = [:]
        var sent: [NewJob] = []
        var sentIndex: [Int] = []  // for each job given: its position in `sent`
        sent.reserveCapacity(jobs.count)
        sentIndex.reserveCapacity(jobs.count)
        for job in jobs {
            if let key = job.uniqueKey, let first = firstWithKey[key] {
                sentIndex.append(sentIndex[first])
                continue
            }
            if let key = job.uniqueKey { firstWithKey[key] = sentIndex.count }
            sentIndex.append(sent.count)
            sent.append(job)
        }
        let executor = executor ?? client
        var (ids, inserted) = try await insertRows(sent, on: executor)
        // Keys that already had a job: look the holders up in a new statement, whose snapshot
        // also sees a competing insert that committed while this one waited on it. A holder
        // that left its unique states in between freed the key: those jobs are inserted again.
        var conflicting = sent.indices.filter { !inserted.contains(ids[$0]) }
        for round in 1...3 where !conflicting.isEmpty {
            let keys = conflicting.compactMap { sent[$0].uniqueKey }
            var holders: [String: Int64] = [:]
            let rows = try await executor.run("""
                SELECT unique_key, id FROM jobs WHERE unique_key = ANY(\(keys)) AND queue_unique_holds(unique_states, state)
                """, logger: logger)
            for try await (key, id) in rows.decode((String, Int64).self) { holders[key] = id }
            var freed: [Int] = []
            for index in conflicting {
                if let key = sent[index].uniqueKey, let id = holders[key] { ids[index] = id } else { freed.append(index) }
            }
            guard !freed.isEmpty else { break }
            guard round < 3 else {
                throw QueueError(.invalidJob, "a job with unique key '\(sent[freed[0]].uniqueKey ?? "")' kept changing during the insert; retry")
            }
            let (again, againInserted) = try await insertRows(freed.map { sent[$0] }, on: executor)
            for (position, index) in freed.enumerated() { ids[index] = again[position] }
            inserted.formUnion(againInserted)
            conflicting = freed.filter { !inserted.contains(ids[$0]) }
        }
        var seen = Set<Int>()
        return sentIndex.map { index in
            InsertedJob(id: ids[index], inserted: inserted.contains(ids[index]) && seen.insert(index).inserted)
        }
    }

    /// The insert statement: ids are drawn in input order, conflicts on a unique key skipped,
    /// and each queue that got available jobs is notified once.
    /// - Returns: the id drawn for each row, in order, and the ids actually inserted.
    private func insertRows(_ jobs: [NewJob], on executor: any PostgresExecutor) async throws -> ([Int64], Set<Int64>) {
        let queues = jobs.map(\.queue)
        let kinds = jobs.map(\.kind)
        let args = jobs.map(\.args)
        let priorities = jobs.map { Int16($0.priority) }
        let maxAttempts = jobs.map { Int32($0.maxAttempts) }
        let runAts = jobs.map { $0.runAt?.timeIntervalSince1970 ?? 0 }
        let uniqueKeys = jobs.map { $0.uniqueKey ?? "" }
        let uniqueStates = jobs.map { $0.uniqueStates.map(JobState.bitmask) ?? 0 }
        let owners = jobs.map { $0.owner ?? "" }
        let query: PostgresQuery = """
            WITH input AS (
                SELECT nextval('jobs_id_seq'::regclass) AS id, t.*
                  FROM unnest(\(queues)::text[], \(kinds)::text[], \(args)::text[], \(priorities)::int2[],
                              \(maxAttempts)::int4[], \(runAts)::float8[], \(uniqueKeys)::text[], \(uniqueStates)::int2[], \(owners)::text[])
                       WITH ORDINALITY AS t(queue, kind, args, priority, max_attempts, run_at, unique_key, unique_states, owner, ord)
            ), ins AS (
                INSERT INTO jobs (id, queue, kind, args, priority, max_attempts, run_at, state, unique_key, unique_states, owner)
                SELECT id, queue, kind, args::jsonb, priority, max_attempts,
                       CASE WHEN run_at = 0 THEN now() ELSE to_timestamp(run_at) END,
                       CASE WHEN run_at > extract(epoch FROM now()) THEN 'scheduled' ELSE 'available' END,
                       nullif(unique_key, ''), nullif(unique_states, 0), nullif(owner, '')
                  FROM input ORDER BY ord
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND queue_unique_holds(unique_states, state) DO NOTHING
                RETURNING id, queue, state
            )
            SELECT (SELECT array_agg(id ORDER BY ord) FROM input),
                   coalesce((SELECT array_agg(id) FROM ins), '{}'),
                   (SELECT count(pg_notify(\(NotificationChannel.jobs), q.queue))
                      FROM (SELECT DISTINCT queue FROM ins WHERE state = 'available') q)
            """
        do {
            let rows = try await executor.run(query, logger: logger)
            for try await (assigned, inserted, _) in rows.decode(([Int64], [Int64], Int64).self) {
                return (assigned, Set(inserted))
            }
            throw QueueError(.invalidJob, "the insert returned no row")
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "22P02" {
            throw QueueError(.invalidJob, "job args must be valid JSON")
        }
    }

    /// Claims up to `limit` available jobs of `queue` for `workerID` (see `queue_claim` in the
    /// migration: pause and concurrency limits are honoured there, in one round trip).
    public func claim(queue: String, workerID: String, limit: Int, lease: Duration) async throws -> [Job] {
        let rows = try await client.query("""
            SELECT \(unescaped: Job.columnList)
              FROM queue_claim(\(queue), \(workerID), \(Int32(limit)), make_interval(secs => \(lease.seconds))),
                   \(unescaped: Self.asynchronousCommit)
            """, logger: logger)
        var jobs: [Job] = []
        for try await row in rows { jobs.append(try Job(row: row)) }
        return jobs
    }

    /// A FROM item that makes the statement's own transaction commit without waiting for the
    /// WAL flush (`synchronous_commit=off`, for this transaction only). Claims, batch
    /// completions, failed attempts and lease extensions use it: a lost one only re-runs a job,
    /// which at-least-once allows, and it needs no session setting, so it holds through a
    /// transaction pooler (PgBouncer) as on a direct connection.
    static let asynchronousCommit = "set_config('synchronous_commit', 'off', true) AS asynchronous_commit"

    /// A subquery that wakes the workers of the queues with a concurrency limit among those of
    /// the rows of CTE `cte` (running jobs that just ended): a claim the limit cut short is
    /// otherwise only retried at the next poll. Unlimited queues get no notification. Inline,
    /// it costs the completion nothing measurable; the same as a SQL function cost a third.
    static func wakeLimitedQueues(of cte: String) -> String {
        """
        (SELECT count(pg_notify('\(NotificationChannel.jobs)', q.name)) FROM queues q
          WHERE q.concurrency_limit IS NOT NULL AND q.name IN (SELECT queue FROM \(cte)))
        """
    }

    /// Marks running jobs completed, many per statement. Only jobs still running under their
    /// lease change, so a job rescued from its worker is never completed twice, not even by the
    /// same worker's stale attempt after it claimed the job again.
    /// - Returns: the leases that were completed.
    public func complete(_ leases: [JobLease]) async throws -> [JobLease] {
        guard !leases.isEmpty else { return [] }
        let rows = try await client.query("""
            WITH done AS (
                UPDATE jobs j SET state = 'completed', finished_at = now(), lease_until = NULL
                  FROM unnest(\(leases.map(\.jobID)), \(leases.map { Int32($0.attempt) }), \(leases.map(\.workerID))) AS l(id, attempt, worker),
                       \(unescaped: Self.asynchronousCommit)
                 WHERE j.id = l.id AND j.attempt = l.attempt AND j.worker_id = l.worker AND j.state = 'running'
                RETURNING j.id, j.attempt, j.worker_id, j.queue
            )
            SELECT id, attempt, worker_id FROM done, \(unescaped: Self.wakeLimitedQueues(of: "done")) freed
            """, logger: logger)
        var done: [JobLease] = []
        done.reserveCapacity(leases.count)
        for try await (id, attempt, worker) in rows.decode((Int64, Int32, String).self) {
            done.append(JobLease(jobID: id, attempt: Int(attempt), workerID: worker))
        }
        return done
    }

    /// Completes one running job inside the caller's transaction, so a handler's own writes
    /// and the completion commit together.
    /// - Returns: false when the job is no longer running under `lease`.
    public func complete(_ lease: JobLease, on executor: any PostgresExecutor) async throws -> Bool {
        let rows = try await executor.run("""
            WITH done AS (
                UPDATE jobs SET state = 'completed', finished_at = now(), lease_until = NULL
                 WHERE id = \(lease.jobID) AND attempt = \(Int32(lease.attempt)) AND worker_id = \(lease.workerID) AND state = 'running'
                RETURNING id, queue
            )
            SELECT id FROM done, \(unescaped: Self.wakeLimitedQueues(of: "done")) freed
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Writes the outcome of an attempt that did not simply succeed: a retry, a discard, a
    /// snooze, a cancellation or a release at shutdown. Guarded like `complete`.
    /// - Returns: false when the job is no longer running under `lease`.
    public func finish(_ lease: JobLease, transition: JobTransition) async throws -> Bool {
        let state = transition.state.rawValue
        let errorJSON = transition.error.map { "[\($0.json)]" } ?? "[]"
        let runAt = transition.runAt?.timeIntervalSince1970 ?? 0
        let refund: Int32 = transition.refundsAttempt ? 1 : 0
        let rows = try await client.query("""
            WITH updated AS (
                UPDATE jobs SET state = \(state),
                       run_at = CASE WHEN \(runAt)::float8 = 0 THEN run_at ELSE to_timestamp(\(runAt)::float8) END,
                       max_attempts = max_attempts + \(refund),
                       rescues = 0,
                       errors = errors || \(errorJSON)::jsonb,
                       lease_until = NULL,
                       worker_id = CASE WHEN \(state) IN ('available', 'scheduled', 'retryable') THEN NULL ELSE worker_id END,
                       finished_at = CASE WHEN \(state) IN ('completed', 'cancelled', 'discarded') THEN now() END
                  FROM \(unescaped: Self.asynchronousCommit)
                 WHERE id = \(lease.jobID) AND attempt = \(Int32(lease.attempt)) AND worker_id = \(lease.workerID) AND state = 'running'
                RETURNING queue, state
            )
            SELECT count(*), (SELECT count(pg_notify(\(NotificationChannel.jobs), queue)) FROM updated WHERE state = 'available'),
                   \(unescaped: Self.wakeLimitedQueues(of: "updated"))
              FROM updated
            """, logger: logger)
        for try await (count, _, _) in rows.decode((Int64, Int64, Int64).self) { return count > 0 }
        return false
    }

    /// Extends the leases of this worker's running jobs.
    /// - Returns: for each lease still held, whether an operator asked to cancel its job.
    ///   Leases missing from the answer were taken from this worker (rescued or finished elsewhere).
    public func extendLeases(_ leases: [JobLease], by lease: Duration) async throws -> [JobLease: Bool] {
        guard !leases.isEmpty else { return [:] }
        let rows = try await client.query("""
            UPDATE jobs j SET lease_until = now() + make_interval(secs => \(lease.seconds))
              FROM unnest(\(leases.map(\.jobID)), \(leases.map { Int32($0.attempt) }), \(leases.map(\.workerID))) AS l(id, attempt, worker),
                   \(unescaped: Self.asynchronousCommit)
             WHERE j.id = l.id AND j.attempt = l.attempt AND j.worker_id = l.worker AND j.state = 'running'
            RETURNING j.id, j.attempt, j.worker_id, j.cancel_requested_at IS NOT NULL
            """, logger: logger)
        var held: [JobLease: Bool] = [:]
        for try await (id, attempt, worker, cancel) in rows.decode((Int64, Int32, String, Bool).self) {
            held[JobLease(jobID: id, attempt: Int(attempt), workerID: worker)] = cancel
        }
        return held
    }
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
