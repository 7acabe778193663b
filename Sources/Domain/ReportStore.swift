import Crypto
import Foundation
import Logging
import PostgresNIO
import Queue

/// The `reports` table: a report and its `report.generate` job are created in one
/// transaction; the worker records its progress and result; the leader expires old files.
public struct ReportStore: Sendable {
    /// Reports one user may have queued or generating at once.
    public static let maximumUnfinished = 10
    /// Report schedules one user may have.
    public static let maximumSchedules = 10

    /// The job that expires reports past retention (the worker deletes their files).
    public static let expiryKind = "reports.expire"
    /// Run every hour by the leader.
    public static let expirySchedule = PeriodicJob(id: "report-expiry", kind: expiryKind, queue: ReportJobArgs.queue, maxAttempts: 3,
                                                   schedule: .every(.seconds(3600)), catchUp: true)

    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The time zone of the user's settings (IANA name).
    public func timeZone(userID: String) async throws -> String {
        let rows = try await client.query("SELECT cost_user_zone(\(userID))", logger: logger)
        for try await zone in rows.decode(String.self) { return zone }
        return "UTC"
    }

    /// The user's today (`yyyy-MM-dd`) in the time zone of their settings.
    public func today(userID: String) async throws -> String {
        let rows = try await client.query("SELECT to_char(cost_local_day(\(userID), now()), 'YYYY-MM-DD')", logger: logger)
        for try await day in rows.decode(String.self) { return day }
        return LocalDate.string(Date())
    }

    /// Queues a report, or returns the earlier one made under the same idempotency key.
    /// - Throws: `invalid` for bad dates, `notFound` for a channel that is not the user's,
    ///   `limitReached` past `maximumUnfinished`, `conflict` for a key used with another request.
    /// - Returns: the report and whether it is new.
    /// - Parameters:
    ///   - schedule: make it again on this schedule (`request.period` is then required): a
    ///     periodic job `report-schedule:<id>` whose runs each make a report of their own.
    ///   - scheduleID: the schedule this report is a run of.
    public func create(userID: String, request: ReportRequest, idempotencyKey: String?, schedule: CronSchedule? = nil,
                       scheduleID: String? = nil) async throws -> (Report, created: Bool) {
        try request.validate()
        if schedule != nil, request.period == nil {
            throw DomainError(.invalid, "a scheduled report names a period (its days move with each run), not dates", field: "period")
        }
        let key = idempotencyKey?.trimmingCharacters(in: .whitespaces)
        if let key, key.isEmpty || key.utf8.count > 255 {
            throw DomainError(.invalid, "Idempotency-Key must be 1 to 255 characters", field: "Idempotency-Key")
        }
        let channels = Array(Set(request.channelIDs)).sorted()
        let hash = ByteBuffer(bytes: Data(SHA256.hash(data: Data(
            "\(request.type.rawValue)|\(request.format.rawValue)|\(request.from)|\(request.to)|\(channels.joined(separator: ","))".utf8))))
        let id = PrefixedID.make("rep_")
        return try await client.withTransaction(logger: logger) { connection in
            try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
            if let key {
                let earlier = try await connection.query("""
                    SELECT id, request_hash FROM reports WHERE user_id = \(userID) AND idempotency_key = \(key)
                    """, logger: logger)
                for try await (earlierID, storedHash) in earlier.decode((String, ByteBuffer?).self) {
                    guard storedHash == hash else {
                        throw DomainError(.conflict, "This Idempotency-Key was used for a different report", field: "Idempotency-Key")
                    }
                    guard let report = try await Self.select(id: earlierID, userID: userID, on: connection, logger: logger) else { break }
                    return (report, false)
                }
            }
            if !channels.isEmpty {
                let owned = try await connection.query("""
                    SELECT array_agg(id) FROM channels WHERE user_id = \(userID) AND id = ANY(\(channels))
                    """, logger: logger)
                var found: [String] = []
                for try await ids in owned.decode([String]?.self) { found = ids ?? [] }
                if let missing = channels.first(where: { !found.contains($0) }) {
                    throw DomainError(.notFound, "No channel \(missing)", field: "channel_ids")
                }
            }
            let unfinished = try await connection.query("""
                SELECT count(*) FROM reports WHERE user_id = \(userID) AND status IN ('queued', 'generating')
                """, logger: logger)
            for try await count in unfinished.decode(Int64.self) where count >= Self.maximumUnfinished {
                throw DomainError(.limitReached, "You have \(Self.maximumUnfinished) reports being made; wait for one to finish",
                                  limit: Self.maximumUnfinished)
            }
            let job = try await JobStore(client: client, logger: logger).insert(
                try NewJob(kind: ReportJobArgs.kind, encoding: ReportJobArgs(reportID: id, userID: userID), queue: ReportJobArgs.queue,
                           maxAttempts: 5, owner: userID), on: connection)
            var owningSchedule = scheduleID
            if let schedule {
                guard let first = schedule.next(after: Date()), let second = schedule.next(after: first),
                      second.timeIntervalSince(first) >= 3600 else {
                    throw DomainError(.invalid, "a report is made at most once an hour: choose a sparser schedule", field: "schedule.cron")
                }
                let existing = try await connection.query("""
                    SELECT count(*) FROM periodic_jobs WHERE owner = \(userID) AND kind = \(ReportScheduleArgs.kind)
                    """, logger: logger)
                for try await count in existing.decode(Int64.self) where count >= Self.maximumSchedules {
                    throw DomainError(.limitReached, "You have \(Self.maximumSchedules) report schedules; delete one first", limit: Self.maximumSchedules)
                }
            }
            if let schedule, let period = request.period {
                let periodic = "report-schedule:\(id)"
                let args = ReportScheduleArgs(scheduleID: periodic, userID: userID, type: request.type, format: request.format, period: period,
                                              channelIDs: channels, scheduledAt: nil)
                try await PeriodicJobStore(client: client, logger: logger).upsert(
                    PeriodicJob(id: periodic, kind: ReportScheduleArgs.kind, args: String(decoding: try JSONEncoder().encode(args), as: UTF8.self),
                                queue: ReportJobArgs.queue, maxAttempts: 5, owner: userID, schedule: .cron(schedule), catchUp: true),
                    on: connection)
                owningSchedule = periodic
            }
            try await connection.query("""
                INSERT INTO reports (id, user_id, type, format, date_from, date_to, channel_ids, job_id, idempotency_key, request_hash, period,
                                     schedule_id)
                VALUES (\(id), \(userID), \(request.type.rawValue), \(request.format.rawValue), \(request.from)::date, \(request.to)::date,
                        \(channels), \(job.id), \(key), \(hash), \(request.period), \(owningSchedule))
                """, logger: logger)
            guard let report = try await Self.select(id: id, userID: userID, on: connection, logger: logger) else {
                throw DomainError(.notFound, "The report vanished")
            }
            return (report, true)
        }
    }

    public func report(id: String, userID: String) async throws -> Report? {
        try await client.withConnection { try await Self.select(id: id, userID: userID, on: $0, logger: logger) }
    }

    /// The user's reports, newest first.
    public func list(userID: String, offset: Int, limit: Int) async throws -> (reports: [Report], total: Int) {
        try await client.withConnection { connection in
            let reports = try await Self.select(where: "r.user_id = \(userID) ORDER BY r.created_at DESC, r.id DESC OFFSET \(Int64(offset)) LIMIT \(Int64(limit))",
                                                on: connection, logger: logger)
            let count = try await connection.query("SELECT count(*) FROM reports WHERE user_id = \(userID)", logger: logger)
            var total = 0
            for try await n in count.decode(Int64.self) { total = Int(n) }
            return (reports, total)
        }
    }

    /// Makes the report of one run of a schedule: the schedule's period as of the run, in the
    /// user's time zone, once per run (a retried run finds the report it made).
    /// - Returns: nil when the schedule's report type or user is gone.
    @discardableResult
    public func createScheduled(_ args: ReportScheduleArgs, now: Date = Date()) async throws -> Report? {
        guard let periodic = try await PeriodicJobStore(client: client, logger: logger).job(id: args.scheduleID), periodic.owner == args.userID
        else { return nil }
        // The period as of the run, in the schedule's own time zone (a Tokyo schedule's Monday).
        let at = args.scheduledAt.flatMap { try? Date($0, strategy: .iso8601) } ?? now
        let zone = if case .cron(let cron) = periodic.schedule { cron.timeZone } else { TimeZone.gmt }
        let today = LocalDate.string(at, in: zone)
        let days = try ReportRequest.days(of: args.period, today: today)
        let request = ReportRequest(type: args.type, format: args.format, from: days.from, to: days.to, channelIDs: args.channelIDs,
                                    period: args.period)
        return try await create(userID: args.userID, request: request, idempotencyKey: "\(args.scheduleID):\(args.scheduledAt ?? today)",
                                scheduleID: args.scheduleID).0
    }

    /// Removes a report; its job, when unfinished, is cancelled, and the schedule it set up (if
    /// it is the report that was made with one) stops.
    /// - Returns: the file's storage key (to delete), or nil with `found` false when there was no such report.
    public func delete(id: String, userID: String) async throws -> (found: Bool, storageKey: String?) {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                DELETE FROM reports WHERE id = \(id) AND user_id = \(userID) RETURNING storage_key, job_id, schedule_id
                """, logger: logger)
            for try await (key, jobID, schedule) in rows.decode((String?, Int64?, String?).self) {
                if let jobID { try await JobStore(client: client, logger: logger).cancel(ids: [jobID], on: connection) }
                // The report that set the schedule up stops it; its runs' reports are only files.
                if let schedule, schedule == "report-schedule:\(id)" {
                    try await PeriodicJobStore(client: client, logger: logger).remove(id: schedule, on: connection)
                }
                return (true, key)
            }
            return (false, nil)
        }
    }

    /// The report a job makes, moved to `generating`; nil when it was deleted or is done.
    public func start(id: String) async throws -> (Report, userID: String)? {
        let rows = try await client.query("""
            UPDATE reports SET status = 'generating', progress = 0, error = NULL
             WHERE id = \(id) AND status IN ('queued', 'generating') RETURNING user_id
            """, logger: logger)
        for try await userID in rows.decode(String.self) {
            guard let report = try await report(id: id, userID: userID) else { return nil }
            return (report, userID)
        }
        return nil
    }

    /// Records progress (0–100) and tells the user's sockets.
    public func progress(id: String, userID: String, percent: Int) async throws {
        let percent = min(max(percent, 0), 100)
        try await client.query("""
            WITH updated AS (UPDATE reports SET progress = \(Int32(percent)) WHERE id = \(id) AND status = 'generating' RETURNING id)
            SELECT pg_notify(\(DomainEvents.liveChannel), json_build_object(
                       'type', 'system.notification', 'user_id', \(userID)::text, 'event', 'report.progress',
                       'report_id', \(id)::text, 'progress', \(Int32(percent)))::text)
              FROM updated
            """, logger: logger)
    }

    /// Records the stored file and writes `report.ready` (webhooks and sockets).
    /// - Returns: false when the report was deleted meanwhile (the caller removes the file).
    public func finish(id: String, userID: String, storageKey: String, rows: Int64, size: Int64, sha256: String,
                       retention: Duration) async throws -> Bool {
        try await client.withTransaction(logger: logger) { connection in
            let updated = try await connection.query("""
                UPDATE reports SET status = 'ready', progress = 100, storage_key = \(storageKey), rows = \(rows), size_bytes = \(size),
                       sha256 = \(sha256), ready_at = now(), expires_at = now() + make_interval(secs => \(Double(retention.components.seconds)))
                 WHERE id = \(id) AND status = 'generating'
                RETURNING type, format, to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                """, logger: logger)
            for try await (type, format, expires) in updated.decode((String, String, String).self) {
                try await DomainEvents.record(type: "report.ready", userID: userID, data: DomainEvents.json([
                    "report_id": id, "type": type, "format": format, "rows": rows, "size_bytes": size, "sha256": sha256,
                    "download_url": "/api/v1/reports/\(id)/download", "expires_at": expires,
                ]), on: connection, logger: logger)
                return true
            }
            return false
        }
    }

    /// Marks the report failed with a reason and writes `report.failed`.
    public func fail(id: String, userID: String, reason: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            let updated = try await connection.query("""
                UPDATE reports SET status = 'failed', error = \(String(reason.prefix(500)))
                 WHERE id = \(id) AND status IN ('queued', 'generating') RETURNING type
                """, logger: logger)
            for try await type in updated.decode(String.self) {
                try await DomainEvents.record(type: "report.failed", userID: userID, data: DomainEvents.json([
                    "report_id": id, "type": type, "error": String(reason.prefix(500)),
                ]), on: connection, logger: logger)
            }
        }
    }

    /// Ready reports past their `expires_at` (up to `limit`), with their files' keys.
    public func dueForExpiry(limit: Int = 500) async throws -> [(id: String, storageKey: String?)] {
        let rows = try await client.query("""
            SELECT id, storage_key FROM reports WHERE status = 'ready' AND expires_at <= now() ORDER BY expires_at LIMIT \(Int32(clamping: limit))
            """, logger: logger)
        var due: [(String, String?)] = []
        for try await row in rows.decode((String, String?).self) { due.append(row) }
        return due
    }

    /// Marks reports expired once their files are deleted.
    public func markExpired(ids: [String]) async throws {
        try await client.query("""
            UPDATE reports SET status = 'expired', storage_key = NULL WHERE id = ANY(\(ids)) AND status = 'ready'
            """, logger: logger)
    }

    /// Fails the reports whose job ended without making them (discarded after its worker died,
    /// cancelled, or pruned), writing `report.failed` for each.
    /// - Returns: how many.
    @discardableResult
    public func failAbandoned() async throws -> Int {
        let rows = try await client.query("""
            SELECT r.id, r.user_id FROM reports r
             WHERE r.status IN ('queued', 'generating') AND r.created_at < now() - interval '1 minute'
               AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND j.state IN ('available', 'scheduled', 'running', 'retryable'))
             LIMIT 500
            """, logger: logger)
        var abandoned: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { abandoned.append(row) }
        for (id, userID) in abandoned {
            try await fail(id: id, userID: userID, reason: "The report's job ended without making it (its worker stopped); make it again")
        }
        return abandoned.count
    }

    /// The columns `select` reads, by these names.
    static let columns = """
        r.id, r.type, r.format, to_char(r.date_from, 'YYYY-MM-DD') AS date_from, to_char(r.date_to, 'YYYY-MM-DD') AS date_to, r.channel_ids,
        r.status, r.progress, r.rows, r.size_bytes, r.sha256, r.error, r.storage_key, r.created_at, r.ready_at, r.expires_at, r.period,
        r.schedule_id, p.cron, p.time_zone, p.next_run_at
        """

    static func select(id: String, userID: String, on connection: PostgresConnection, logger: Logger) async throws -> Report? {
        try await select(where: "r.id = \(id) AND r.user_id = \(userID)", on: connection, logger: logger).first
    }

    private static func select(where condition: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [Report] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(columns) FROM reports r LEFT JOIN periodic_jobs p ON p.id = r.schedule_id WHERE ")
        query.sql += condition.sql
        query.binds = condition.binds
        let rows = try await connection.query(query, logger: logger)
        var reports: [Report] = []
        for try await row in rows {
            let c = NamedRow(row)
            let scheduleID: String? = try c("schedule_id")
            let schedule = try scheduleID.map { id in
                ReportSchedule(id: id, cron: try c("cron", as: String?.self) ?? "", timeZone: try c("time_zone", as: String?.self) ?? "",
                               nextRunAt: try c("next_run_at"))
            }
            reports.append(Report(
                id: try c("id"), type: try DatabaseValue.decode(try c("type", as: String.self), column: "reports.type"),
                format: try DatabaseValue.decode(try c("format", as: String.self), column: "reports.format"), from: try c("date_from"),
                to: try c("date_to"), channelIDs: try c("channel_ids"),
                status: try DatabaseValue.decode(try c("status", as: String.self), column: "reports.status"),
                progress: Int(try c("progress", as: Int32.self)), rows: try c("rows"), sizeBytes: try c("size_bytes"), sha256: try c("sha256"),
                error: try c("error"), storageKey: try c("storage_key"), createdAt: try c("created_at"), readyAt: try c("ready_at"),
                expiresAt: try c("expires_at"), period: try c("period"), schedule: schedule))
        }
        return reports
    }
}
