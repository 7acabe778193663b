import Foundation
import PostgresNIO

/// Statements the leader's maintenance services run.
extension JobStore {
    /// What one rescue round did.
    public struct Rescued: Sendable, Equatable {
        /// Jobs taken back from dead workers.
        public var count: Int
        /// Jobs discarded because their workers died `maximumRescues` times in a row.
        public var poisoned: [(id: Int64, queue: String, kind: String)]

        public static func == (lhs: Rescued, rhs: Rescued) -> Bool {
            lhs.count == rhs.count && lhs.poisoned.map(\.id) == rhs.poisoned.map(\.id)
        }
    }

    /// Returns running jobs whose lease expired (their worker died or hung) to `retryable`
    /// (due at once; the scheduler makes them available), or to `discarded` when they used
    /// their last attempt or their workers died `maximumRescues` times in a row (a poison
    /// pill: whatever kills its workers would go on killing them), or to `cancelled` when a
    /// cancel was requested. Each gets an entry in its `errors`.
    public func rescueExpired(limit: Int = 1000, maximumRescues: Int = 3) async throws -> Rescued {
        let rows = try await client.query("""
            WITH expired AS (
                SELECT id FROM jobs WHERE state = 'running' AND lease_until < now()
                 ORDER BY lease_until LIMIT \(Int32(limit)) FOR UPDATE SKIP LOCKED
            ), rescued AS (
                UPDATE jobs j
                   SET state = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                                    WHEN j.attempt >= j.max_attempts OR j.rescues + 1 >= \(Int32(maximumRescues)) THEN 'discarded'
                                    ELSE 'retryable' END,
                       rescues = j.rescues + 1,
                       errors = j.errors || jsonb_build_array(jsonb_build_object(
                           'attempt', j.attempt, 'at', now(), 'error',
                           CASE WHEN j.cancel_requested_at IS NULL AND j.attempt < j.max_attempts AND j.rescues + 1 >= \(Int32(maximumRescues))
                                THEN 'discarded: the workers running this job died ' || (j.rescues + 1) || ' times in a row (last: worker '
                                     || coalesce(j.worker_id, '?') || ')'
                                ELSE 'lease expired: worker ' || coalesce(j.worker_id, '?') || ' stopped answering' END)),
                       finished_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR j.attempt >= j.max_attempts
                                               OR j.rescues + 1 >= \(Int32(maximumRescues)) THEN now() END,
                       run_at = now(), lease_until = NULL, worker_id = NULL
                  FROM expired WHERE j.id = expired.id
                RETURNING j.id, j.queue, j.kind, j.state, j.cancel_requested_at IS NULL AND j.rescues >= \(Int32(maximumRescues))
                          AND j.attempt < j.max_attempts AS poisoned
            )
            SELECT id, queue, kind, poisoned FROM rescued
            """, logger: logger)
        var result = Rescued(count: 0, poisoned: [])
        for try await (id, queue, kind, poisoned) in rows.decode((Int64, String, String, Bool).self) {
            result.count += 1
            if poisoned { result.poisoned.append((id, queue, kind)) }
        }
        return result
    }

    /// Makes scheduled and retryable jobs whose time has come `available`, and wakes their
    /// queues' workers.
    /// - Returns: how many jobs were promoted.
    public func promoteDue(limit: Int = 10_000) async throws -> Int {
        let rows = try await client.query("""
            WITH due AS (
                SELECT id FROM jobs WHERE state IN ('scheduled', 'retryable') AND run_at <= now()
                 ORDER BY run_at LIMIT \(Int32(limit)) FOR UPDATE SKIP LOCKED
            ), promoted AS (
                UPDATE jobs j SET state = 'available' FROM due WHERE j.id = due.id RETURNING j.queue
            )
            SELECT count(*), (SELECT count(pg_notify(\(NotificationChannel.jobs), q.queue))
                                FROM (SELECT DISTINCT queue FROM promoted) q)
              FROM promoted
            """, logger: logger)
        for try await (count, _) in rows.decode((Int64, Int64).self) { return Int(count) }
        return 0
    }

    /// Deletes finished jobs older than the retention of their state.
    /// - Returns: how many rows were deleted.
    public func pruneFinished(completedOlderThan: Duration, failedOlderThan: Duration, limit: Int = 10_000) async throws -> Int {
        let rows = try await client.query("""
            WITH old AS (
                SELECT id FROM jobs
                 WHERE (state = 'completed' AND finished_at < now() - make_interval(secs => \(completedOlderThan.seconds)))
                    OR (state IN ('cancelled', 'discarded') AND finished_at < now() - make_interval(secs => \(failedOlderThan.seconds)))
                 LIMIT \(Int32(limit)) FOR UPDATE SKIP LOCKED
            ), deleted AS (
                DELETE FROM jobs j USING old WHERE j.id = old.id RETURNING 1
            )
            SELECT count(*) FROM deleted
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
