import Foundation
import Logging
import PostgresNIO
import Synchronization

/// When a periodic job runs: a cron expression in a time zone, or a fixed interval.
public enum PeriodicSchedule: Sendable, Equatable, CustomStringConvertible {
    case cron(CronSchedule)
    case every(Duration)

    /// The first run strictly after `instant`.
    public func next(after instant: Date) -> Date? {
        switch self {
        case .cron(let cron): cron.next(after: instant)
        case .every(let interval): instant.addingTimeInterval(max(1, Double(interval.components.seconds)))
        }
    }

    /// The last run at or before `now`, starting from the due run `scheduled`, and how many runs
    /// after `scheduled` that passes over. Intervals are counted by arithmetic; a cron is walked,
    /// and past 10,000 runs (a long outage of a frequent schedule) it starts again from a day
    /// before `now`, so the answer is the true latest whatever the gap.
    func latest(from scheduled: Date, by now: Date) -> (Date, Int) {
        switch self {
        case .every(let interval):
            let step = max(1, Double(interval.components.seconds))
            let missed = max(0, Int((now.timeIntervalSince(scheduled) / step).rounded(.down)))
            return (scheduled.addingTimeInterval(Double(missed) * step), missed)
        case .cron:
            var latest = scheduled, missed = 0
            while let following = next(after: latest), following <= now {
                latest = following
                missed += 1
                if missed == 10_000, let restart = next(after: now.addingTimeInterval(-86_400)), restart <= now {
                    latest = restart
                    while let later = next(after: latest), later <= now { latest = later }
                    return (latest, missed)
                }
            }
            return (latest, missed)
        }
    }

    public var description: String {
        switch self {
        case .cron(let cron): cron.description
        case .every(let interval): "every \(interval.components.seconds) s"
        }
    }
}

/// A schedule: what to enqueue and when. The enqueued job's args are `args` with
/// `scheduled_at` (RFC 3339) added: the run's scheduled time, the same on every attempt.
public struct PeriodicJob: Sendable, Equatable {
    /// Stable and unique (`channel-syncs`, `report:rep_123`): the same id is the same schedule.
    public var id: String
    public var kind: String
    /// A JSON object (text).
    public var args: String
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    public var owner: String?
    public var schedule: PeriodicSchedule
    /// Runs missed while no leader existed: one run on recovery (true), or none (false).
    public var catchUp: Bool
    public var paused = false
    public var nextRunAt: Date?
    public var lastRunAt: Date?
    public var lastJobID: Int64?

    public init(id: String, kind: String, args: String = "{}", queue: String = "default", priority: Int = 0, maxAttempts: Int = 20,
                owner: String? = nil, schedule: PeriodicSchedule, catchUp: Bool = true) {
        self.id = id
        self.kind = kind
        self.args = args
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.owner = owner
        self.schedule = schedule
        self.catchUp = catchUp
    }
}

/// The `periodic_jobs` table: schedules added, changed and removed at run time (by code at
/// start, by the API, by the CLI), and the leader's enqueueing of due runs.
///
/// Each due run is enqueued as an ordinary job whose unique key is the schedule and the
/// scheduled time, in the transaction that advances the schedule, with the schedule's row
/// locked: a leader killed mid-way, a failover, or two leaders for a moment never run a period
/// twice nor skip one. Runs missed while no leader existed come as one job for the latest of
/// them (`catchUp`) or none, never one per missed period.
public struct PeriodicJobStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Adds a schedule or changes one with the same id (its paused state is kept; its next run
    /// is recomputed only when the schedule itself changed).
    /// - Throws: `invalidJob` for a job that could not be inserted (bad queue, args, …).
    public func upsert(_ job: PeriodicJob, now: Date = Date(), on executor: (any PostgresExecutor)? = nil) async throws {
        try NewJob(kind: job.kind, args: job.args, queue: job.queue, priority: job.priority, maxAttempts: job.maxAttempts, owner: job.owner)
            .validate()
        guard let next = job.schedule.next(after: now) else {
            throw QueueError(.invalidConfiguration, "the schedule \(job.schedule) never runs")
        }
        let (cron, every, zone) = Self.columns(job.schedule)
        try await (executor ?? client).run("""
            INSERT INTO periodic_jobs (id, kind, args, queue, priority, max_attempts, owner, cron, every_seconds, time_zone, catch_up, next_run_at)
            VALUES (\(job.id), \(job.kind), \(job.args)::jsonb, \(job.queue), \(Int16(clamping: job.priority)), \(Int32(clamping: job.maxAttempts)),
                    \(job.owner), \(cron), \(every), \(zone), \(job.catchUp), \(next))
            ON CONFLICT (id) DO UPDATE SET
                kind = excluded.kind, args = excluded.args, queue = excluded.queue, priority = excluded.priority,
                max_attempts = excluded.max_attempts, owner = excluded.owner, catch_up = excluded.catch_up, updated_at = now(),
                cron = excluded.cron, every_seconds = excluded.every_seconds, time_zone = excluded.time_zone,
                next_run_at = CASE WHEN (periodic_jobs.cron, periodic_jobs.every_seconds, periodic_jobs.time_zone)
                                        IS NOT DISTINCT FROM (excluded.cron, excluded.every_seconds, excluded.time_zone)
                                   THEN periodic_jobs.next_run_at ELSE excluded.next_run_at END
            """, logger: logger)
    }

    /// Removes a schedule (jobs it already enqueued go on); false when there was none.
    @discardableResult
    public func remove(id: String, on executor: (any PostgresExecutor)? = nil) async throws -> Bool {
        let rows = try await (executor ?? client).run("DELETE FROM periodic_jobs WHERE id = \(id) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// Removes every schedule of an owner (an account being deleted).
    public func removeAll(ownedBy owner: String, on executor: (any PostgresExecutor)? = nil) async throws {
        try await (executor ?? client).run("DELETE FROM periodic_jobs WHERE owner = \(owner)", logger: logger)
    }

    /// Pauses or resumes a schedule; a resumed schedule's next run is the first after now (the
    /// runs it missed while paused are not made up). False when there is no such schedule.
    @discardableResult
    public func setPaused(id: String, _ paused: Bool, now: Date = Date()) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            guard var job = try await Self.select(id: id, on: connection, logger: logger, lock: true).first else { return false }
            job.paused = paused
            let next = paused ? job.nextRunAt : job.schedule.next(after: now)
            try await connection.query("""
                UPDATE periodic_jobs SET paused = \(paused), next_run_at = coalesce(\(next), next_run_at), updated_at = now() WHERE id = \(id)
                """, logger: logger)
            return true
        }
    }

    /// Enqueues a run now, apart from the schedule (which is not moved).
    /// - Returns: the job, nil when there is no such schedule.
    public func runNow(id: String, now: Date = Date()) async throws -> InsertedJob? {
        try await client.withTransaction(logger: logger) { connection in
            guard let job = try await Self.select(id: id, on: connection, logger: logger).first else { return nil }
            return try await JobStore(client: client, logger: logger).insert(try Self.run(of: job, at: now, manual: true), on: connection)
        }
    }

    /// Every schedule, by id.
    public func list() async throws -> [PeriodicJob] {
        try await client.withConnection { try await Self.select(on: $0, logger: logger) }
    }

    public func job(id: String) async throws -> PeriodicJob? {
        try await client.withConnection { try await Self.select(id: id, on: $0, logger: logger).first }
    }

    /// Enqueues the due runs of up to `limit` schedules and advances them, in one transaction
    /// (their rows locked, so a second leader for a moment waits and then finds them advanced).
    /// - Returns: the jobs enqueued.
    @discardableResult
    public func enqueueDue(now: Date = Date(), limit: Int = 100) async throws -> [InsertedJob] {
        try await client.withTransaction(logger: logger) { connection in
            let due = try await Self.select(dueBy: now, on: connection, logger: logger, lock: true, limit: limit)
            var enqueued: [InsertedJob] = []
            let jobs = JobStore(client: client, logger: logger)
            for job in due {
                guard let scheduled = job.nextRunAt else { continue }
                // The latest run due by now; the ones before it were missed (no leader then).
                let (latest, missed) = job.schedule.latest(from: scheduled, by: now)
                var jobID: Int64?
                if missed == 0 || job.catchUp {
                    let inserted = try await jobs.insert(try Self.run(of: job, at: latest, manual: false), on: connection)
                    enqueued.append(inserted)
                    jobID = inserted.id
                }
                if missed > 0 {
                    logger.info("periodic job missed runs", metadata: [
                        "periodic.id": "\(job.id)", "missed": "\(missed)", "caught_up": "\(job.catchUp)",
                    ])
                }
                // The first run after now (`latest` is the last one by now). Nothing after: a cron
                // that never runs again is paused rather than spun on.
                let next = job.schedule.next(after: latest)
                try await connection.query("""
                    UPDATE periodic_jobs SET next_run_at = coalesce(\(next), next_run_at), paused = paused OR \(next == nil),
                           last_run_at = CASE WHEN \(jobID)::int8 IS NULL THEN last_run_at ELSE \(latest) END,
                           last_job_id = coalesce(\(jobID), last_job_id), updated_at = now()
                     WHERE id = \(job.id)
                    """, logger: logger)
            }
            return enqueued
        }
    }

    /// The job of one run: the schedule's, with `scheduled_at`, unique per schedule and time.
    static func run(of job: PeriodicJob, at scheduled: Date, manual: Bool) throws -> NewJob {
        let stamp = scheduled.formatted(.iso8601)
        var args = (try? JSONSerialization.jsonObject(with: Data(job.args.utf8))) as? [String: Any] ?? [:]
        args["scheduled_at"] = stamp
        let text = String(decoding: try JSONSerialization.data(withJSONObject: args, options: [.sortedKeys]), as: UTF8.self)
        return NewJob(kind: job.kind, args: text, queue: job.queue, priority: job.priority, maxAttempts: job.maxAttempts,
                      uniqueKey: "periodic:\(job.id):\(manual ? "manual:" : "")\(stamp)", owner: job.owner)
    }

    static func columns(_ schedule: PeriodicSchedule) -> (cron: String?, every: Int64?, zone: String) {
        switch schedule {
        case .cron(let cron): (cron.expression, nil, cron.timeZone.identifier)
        case .every(let interval): (nil, max(1, interval.components.seconds), "UTC")
        }
    }

    /// Schedules: one by `id`, the unpaused ones due by `dueBy`, or all; locked for the
    /// caller's transaction with `lock`.
    private static func select(id: String? = nil, dueBy: Date? = nil, on connection: PostgresConnection, logger: Logger, lock: Bool = false,
                               limit: Int = 10_000) async throws -> [PeriodicJob] {
        let rows = try await connection.query("""
            SELECT id, kind, args::text, queue, priority, max_attempts, owner, cron, every_seconds, time_zone, catch_up, paused,
                   next_run_at, last_run_at, last_job_id
              FROM periodic_jobs
             WHERE (\(id)::text IS NULL OR id = \(id))
               AND (\(dueBy)::timestamptz IS NULL OR (NOT paused AND next_run_at <= \(dueBy)))
             ORDER BY next_run_at, id LIMIT \(Int32(clamping: limit))
              \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        var found: [PeriodicJob] = []
        var unreadable: [String] = []
        for try await (id, kind, args, queue, priority, attempts, owner, cron, every, zone, catchUp, paused, next, last, jobID)
            in rows.decode((String, String, String, String, Int16, Int32, String?, String?, Int64?, String, Bool, Bool, Date, Date?, Int64?).self) {
            let schedule: PeriodicSchedule
            if let cron {
                // A row this process cannot read (a time zone its tzdata lacks) is left out, and
                // paused so it is not met again; every other schedule goes on.
                guard let timeZone = TimeZone(identifier: zone), let parsed = try? CronSchedule(cron, timeZone: timeZone) else {
                    logger.error("periodic job paused: its schedule cannot be read here", metadata: ["periodic.id": "\(id)", "cron": "\(cron)",
                                                                                                   "time_zone": "\(zone)"])
                unreadable.append(id)
                    continue
                }
                schedule = .cron(parsed)
            } else {
                schedule = .every(.seconds(every ?? 86_400))
            }
            var job = PeriodicJob(id: id, kind: kind, args: args, queue: queue, priority: Int(priority), maxAttempts: Int(attempts), owner: owner,
                                  schedule: schedule, catchUp: catchUp)
            job.paused = paused
            job.nextRunAt = next
            job.lastRunAt = last
            job.lastJobID = jobID
            found.append(job)
        }
        if !unreadable.isEmpty {
            try await connection.query("UPDATE periodic_jobs SET paused = true WHERE id = ANY(\(unreadable))", logger: logger)
        }
        return found
    }
}

/// The leader's chore that enqueues due periodic jobs; on its first round it adds (or
/// updates) the schedules the code defines.
public struct PeriodicEnqueuer: MaintenanceTask {
    public let store: PeriodicJobStore
    public let definitions: [PeriodicJob]
    public let interval: Duration
    public let now: @Sendable () -> Date
    private let defined = DefinedOnce()
    public var name: String { "periodic-enqueuer" }

    public init(store: PeriodicJobStore, definitions: [PeriodicJob] = [], interval: Duration = .seconds(1),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.definitions = definitions
        self.interval = interval
        self.now = now
    }

    public func runOnce() async throws -> Int {
        if !defined.done {
            for job in definitions { try await store.upsert(job, now: now()) }
            defined.done = true
        }
        return try await store.enqueueDue(now: now()).count { $0.inserted }
    }

    /// Whether the definitions were written (once per process).
    private final class DefinedOnce: Sendable {
        private let value = Atomic<Bool>(false)
        var done: Bool {
            get { value.load(ordering: .acquiring) }
            set { value.store(newValue, ordering: .releasing) }
        }
    }
}
