import Foundation
import PostgresNIO

/// One minute of the fleet's work, for the console's charts.
public struct QueueMinute: Sendable, Equatable {
    /// The minute's start.
    public var at: Date
    /// Jobs that completed in it.
    public var completed: Int
    /// Attempts that failed in it (retried later or given up). A job whose retry is due but not
    /// yet claimed is not among the jobs read, so its failures count again once it runs.
    public var failed: Int
    /// Attempts that started in it and whose start is known: running and finished jobs' latest
    /// attempts (a job waiting to retry has its next start in place of its last).
    public var started: Int
    /// Of those starts, the median and 95th percentile of the time from when the job was due
    /// (enqueued, or its retry's time) to when a worker claimed it, in seconds; nil without starts.
    public var latencyP50: Double?
    public var latencyP95: Double?
}

extension QueueStore {
    /// The last `minutes` minutes (1 to 1440) minute by minute, the current minute last, for
    /// `queue` or (nil) every queue. Reads only the jobs that finished in that time, plus
    /// those running or waiting to retry, each set through its partial index.
    public func history(minutes: Int, queue: String? = nil) async throws -> [QueueMinute] {
        let span = Int32(min(max(minutes, 1), 1440))
        let rows = try await client.query("""
            WITH touched AS (
                SELECT j.state, j.run_at, j.attempted_at, j.finished_at, j.errors
                  FROM jobs j
                 WHERE (\(queue)::text IS NULL OR j.queue = \(queue))
                   AND ((j.state IN ('completed', 'cancelled', 'discarded')
                         AND j.finished_at >= date_trunc('minute', now()) - make_interval(mins => \(span) - 1))
                        OR j.state = 'running' OR j.state = 'retryable')
            ), completions AS (
                SELECT date_trunc('minute', finished_at) AS at, count(*) AS n FROM touched WHERE state = 'completed' GROUP BY 1
            ), failed_attempts AS (
                -- Written by the queue alone, but read defensively: an entry without a readable time is skipped.
                SELECT CASE WHEN e.entry->>'at' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}'
                            THEN (e.entry->>'at')::timestamptz END AS at
                  FROM touched t,
                       jsonb_array_elements(CASE WHEN jsonb_typeof(t.errors) = 'array' THEN t.errors ELSE '[]'::jsonb END) AS e(entry)
                 WHERE jsonb_typeof(e.entry) = 'object'
            ), failures AS (
                SELECT date_trunc('minute', at) AS at, count(*) AS n FROM failed_attempts
                 WHERE at >= date_trunc('minute', now()) - make_interval(mins => \(span) - 1)
                 GROUP BY 1
            ), starts AS (
                SELECT date_trunc('minute', attempted_at) AS at, count(*) AS n,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY greatest(extract(epoch FROM attempted_at - run_at), 0)) AS p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY greatest(extract(epoch FROM attempted_at - run_at), 0)) AS p95
                  FROM touched
                 WHERE state <> 'retryable' AND attempted_at >= date_trunc('minute', now()) - make_interval(mins => \(span) - 1)
                 GROUP BY 1
            ), bounds AS (SELECT date_trunc('minute', now()) - make_interval(mins => \(span) - 1) AS since)
            SELECT m.at, coalesce(c.n, 0), coalesce(f.n, 0), coalesce(s.n, 0), s.p50::float8, s.p95::float8
              FROM bounds b
             CROSS JOIN generate_series(b.since, date_trunc('minute', now()), interval '1 minute') AS m(at)
              LEFT JOIN completions c ON c.at = m.at
              LEFT JOIN failures f ON f.at = m.at
              LEFT JOIN starts s ON s.at = m.at
             ORDER BY m.at
            """, logger: logger)
        var minutes: [QueueMinute] = []
        for try await (at, completed, failed, started, p50, p95) in rows.decode((Date, Int64, Int64, Int64, Double?, Double?).self) {
            minutes.append(QueueMinute(at: at, completed: Int(completed), failed: Int(failed), started: Int(started),
                                       latencyP50: p50, latencyP95: p95))
        }
        return minutes
    }
}
