import Foundation
import PostgresNIO

/// What operators find jobs by: each field narrows the search, none given matches every job.
public struct JobSearch: Sendable, Equatable {
    public var queue: String?
    public var kind: String?
    public var state: JobState?
    public var workerID: String?
    /// Created at or after.
    public var createdFrom: Date?
    /// Created before.
    public var createdTo: Date?
    /// Top-level arguments the job's must contain, e.g. `["video_id": "vid_…"]` (`args @> …`).
    public var args: [String: String]

    public init(queue: String? = nil, kind: String? = nil, state: JobState? = nil, workerID: String? = nil, createdFrom: Date? = nil,
                createdTo: Date? = nil, args: [String: String] = [:]) {
        self.queue = queue
        self.kind = kind
        self.state = state
        self.workerID = workerID
        self.createdFrom = createdFrom
        self.createdTo = createdTo
        self.args = args
    }

    /// The search as SQL over `jobs`, its values appended to `binds`.
    func predicate(into binds: inout PostgresBindings) throws -> String {
        var parts = ["true"]
        func bind(_ value: some PostgresNonThrowingEncodable & Sendable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let queue { parts.append("queue = \(bind(queue))") }
        if let kind { parts.append("kind = \(bind(kind))") }
        if let state { parts.append("state = \(bind(state.rawValue))") }
        if let workerID { parts.append("worker_id = \(bind(workerID))") }
        if let createdFrom { parts.append("created_at >= \(bind(createdFrom))") }
        if let createdTo { parts.append("created_at < \(bind(createdTo))") }
        if !args.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            parts.append("args @> \(bind(String(decoding: try encoder.encode(args), as: UTF8.self)))::jsonb")
        }
        return parts.joined(separator: " AND ")
    }
}

/// What a bulk action does to the jobs a search finds.
public enum BulkJobAction: String, Sendable, CaseIterable {
    /// Waiting, failed, cancelled or given-up jobs run again now; running ones are left alone,
    /// and completed ones too unless the search asks for `completed`.
    case retry
    /// Waiting jobs are cancelled at once, running ones asked to stop.
    case cancel
    /// Waiting jobs are given up on (`discarded`); running and finished ones are left alone.
    case discard

    /// SQL over `j` (a job): whether the action would change it. A retry takes, of the jobs
    /// sharing a unique key, only the newest, and none whose key another job holds now.
    func changes(_ search: JobSearch) -> String {
        switch self {
        case .retry:
            let states = search.state == .completed ? "'completed'" : "'available', 'scheduled', 'retryable', 'cancelled', 'discarded'"
            return """
                j.state IN (\(states)) AND (j.unique_key IS NULL OR (
                    j.id = (SELECT max(k.id) FROM jobs k WHERE k.unique_key = j.unique_key)
                    AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.unique_key = j.unique_key AND o.id <> j.id
                                       AND queue_unique_holds(o.unique_states, o.state))))
                """
        case .cancel: return "(j.state IN ('available', 'scheduled', 'retryable') OR (j.state = 'running' AND j.cancel_requested_at IS NULL))"
        case .discard: return "j.state IN ('available', 'scheduled', 'retryable')"
        }
    }
}

extension JobStore {
    /// The jobs `search` finds, newest first, older than the job `before` (a cursor: the last
    /// id of the previous page), at most `limit` (1 to 500). Pages walk the primary key
    /// backwards, so a page costs the same on the first and the millionth row.
    public func search(_ search: JobSearch, before: Int64? = nil, limit: Int = 50) async throws -> [Job] {
        var binds = PostgresBindings()
        var predicate = try search.predicate(into: &binds)
        if let before {
            binds.append(before)
            predicate += " AND id < $\(binds.count)"
        }
        let sql = "SELECT \(Job.columnList) FROM jobs WHERE \(predicate) ORDER BY id DESC LIMIT \(max(1, min(limit, 500)))"
        var jobs: [Job] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) { jobs.append(try Job(row: row)) }
        return jobs
    }

    /// The jobs `search` finds that `action` would change (the same condition `apply` uses),
    /// leaving out kinds that start with any of `sparing`: at most `cap` ids, oldest first.
    private func selection(_ action: BulkJobAction, _ search: JobSearch, sparing: [String], cap: Int,
                           into binds: inout PostgresBindings) throws -> String {
        let predicate = try search.predicate(into: &binds)
        binds.append(sparing.map { $0.replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%" })
        return """
            SELECT j.id FROM jobs j
             WHERE \(predicate) AND \(action.changes(search)) AND NOT (j.kind LIKE ANY($\(binds.count)::text[]))
             ORDER BY j.id LIMIT \(max(0, cap))
            """
    }

    /// How many jobs `action` would change among those `search` finds (kinds starting with any
    /// of `sparing` left out), counting up to `cap`: a bulk action is confirmed with this number.
    public func count(_ search: JobSearch, changedBy action: BulkJobAction, sparing: [String] = [], cap: Int) async throws -> Int {
        var binds = PostgresBindings()
        let chosen = try selection(action, search, sparing: sparing, cap: cap, into: &binds)
        let sql = "SELECT count(*) FROM (\(chosen)) found"
        for try await count in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).decode(Int64.self) {
            return Int(count)
        }
        return 0
    }

    /// Applies `action` to the jobs `search` finds, in one statement, only if they are exactly
    /// `expected` now: the jobs are locked first (`SKIP LOCKED`: a job a worker is finishing
    /// this instant is not waited for) and counted, and nothing changes unless the count is
    /// `expected`, so an action never reaches more jobs than the operator confirmed. Workers
    /// of the queues that got jobs back are woken.
    /// - Returns: how many jobs were found (then locked) and how many changed (0 unless found == expected).
    public func apply(_ action: BulkJobAction, to search: JobSearch, sparing: [String] = [],
                      expected: Int) async throws -> (found: Int, changed: Int) {
        guard expected > 0 else { return (try await count(search, changedBy: action, sparing: sparing, cap: 1), 0) }
        var binds = PostgresBindings()
        let chosen = try selection(action, search, sparing: sparing, cap: expected + 1, into: &binds)
        let update: String
        switch action {
        case .retry:
            update = """
                UPDATE jobs SET state = 'available', run_at = now(), finished_at = NULL, cancel_requested_at = NULL, worker_id = NULL,
                       max_attempts = greatest(max_attempts, attempt + 1), rescues = 0
                 WHERE id IN (SELECT id FROM chosen) AND (SELECT n FROM found) = \(expected)
                RETURNING id, queue, state
                """
        case .cancel:
            update = """
                UPDATE jobs
                   SET state = CASE WHEN state = 'running' THEN state ELSE 'cancelled' END,
                       cancel_requested_at = coalesce(cancel_requested_at, now()),
                       finished_at = CASE WHEN state = 'running' THEN finished_at ELSE now() END
                 WHERE id IN (SELECT id FROM chosen) AND (SELECT n FROM found) = \(expected)
                RETURNING id, queue, state
                """
        case .discard:
            update = """
                UPDATE jobs SET state = 'discarded', finished_at = now()
                 WHERE id IN (SELECT id FROM chosen) AND (SELECT n FROM found) = \(expected)
                RETURNING id, queue, state
                """
        }
        // A CTE with FOR UPDATE is evaluated once: the rows it locked are the rows changed.
        let sql = """
            WITH chosen AS MATERIALIZED (\(chosen) FOR UPDATE SKIP LOCKED),
                 found AS (SELECT count(*) AS n FROM chosen),
                 changed AS (\(update)),
                 woken AS (SELECT count(pg_notify('\(NotificationChannel.jobs)', queue)) AS n
                             FROM (SELECT DISTINCT queue FROM changed WHERE state = 'available') q),
                 stopping AS (SELECT count(pg_notify('\(NotificationChannel.control)', 'cancel:' || id)) AS n
                                FROM changed WHERE state = 'running')
            SELECT (SELECT n FROM found), (SELECT count(*) FROM changed), (SELECT n FROM woken), (SELECT n FROM stopping)
            """
        do {
            let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            for try await (found, changed, _, _) in rows.decode((Int64, Int64, Int64, Int64).self) { return (Int(found), Int(changed)) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw QueueError(.invalidState, "a job of the retry would take a unique key another job took meanwhile: look again")
        }
        return (0, 0)
    }

    /// Gives up on a waiting job: it becomes `discarded` and never runs.
    /// - Returns: the job after the change, or nil when no such job exists.
    /// - Throws: `invalidState` while it runs (cancel it) or once it has finished.
    public func discard(id: Int64) async throws -> Job? {
        let rows = try await client.query("""
            WITH changed AS (
                UPDATE jobs SET state = 'discarded', finished_at = now()
                 WHERE id = \(id) AND state IN ('available', 'scheduled', 'retryable')
                RETURNING id
            )
            SELECT count(*) FROM changed
            """, logger: logger)
        var changed = false
        for try await count in rows.decode(Int64.self) { changed = count > 0 }
        guard let job = try await job(id: id) else { return nil }
        if !changed { throw QueueError(.invalidState, "job \(id) is \(job.state.rawValue): only a waiting job can be discarded") }
        return job
    }
}
