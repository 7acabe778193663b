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
    public func create(userID: String, request: ReportRequest, idempotencyKey: String?) async throws -> (Report, created: Bool) {
        try request.validate()
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
            try await connection.query("""
                INSERT INTO reports (id, user_id, type, format, date_from, date_to, channel_ids, job_id, idempotency_key, request_hash)
                VALUES (\(id), \(userID), \(request.type.rawValue), \(request.format.rawValue), \(request.from)::date, \(request.to)::date,
                        \(channels), \(job.id), \(key), \(hash))
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
            let reports = try await Self.select(where: "user_id = \(userID) ORDER BY created_at DESC, id DESC OFFSET \(Int64(offset)) LIMIT \(Int64(limit))",
                                                on: connection, logger: logger)
            let count = try await connection.query("SELECT count(*) FROM reports WHERE user_id = \(userID)", logger: logger)
            var total = 0
            for try await n in count.decode(Int64.self) { total = Int(n) }
            return (reports, total)
        }
    }

    /// Removes a report; its job, when unfinished, is cancelled.
    /// - Returns: the file's storage key (to delete), or nil with `found` false when there was no such report.
    public func delete(id: String, userID: String) async throws -> (found: Bool, storageKey: String?) {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                DELETE FROM reports WHERE id = \(id) AND user_id = \(userID) RETURNING storage_key, job_id
                """, logger: logger)
            for try await (key, jobID) in rows.decode((String?, Int64?).self) {
                if let jobID { try await JobStore(client: client, logger: logger).cancel(ids: [jobID], on: connection) }
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

    /// Expires ready reports past their `expires_at`.
    /// - Returns: the storage keys of their files, to delete.
    public func expireDue(limit: Int = 500) async throws -> [String] {
        let rows = try await client.query("""
            WITH due AS (SELECT id, storage_key FROM reports WHERE status = 'ready' AND expires_at <= now()
                          ORDER BY expires_at LIMIT \(Int32(clamping: limit)) FOR UPDATE SKIP LOCKED),
                 expired AS (UPDATE reports r SET status = 'expired', storage_key = NULL FROM due WHERE r.id = due.id RETURNING due.storage_key)
            SELECT storage_key FROM expired
            """, logger: logger)
        var keys: [String] = []
        for try await key in rows.decode(String?.self) { if let key { keys.append(key) } }
        return keys
    }

    static let columns = """
        id, type, format, to_char(date_from, 'YYYY-MM-DD'), to_char(date_to, 'YYYY-MM-DD'), channel_ids, status, progress, rows,
        size_bytes, sha256, error, storage_key, created_at, ready_at, expires_at
        """

    static func select(id: String, userID: String, on connection: PostgresConnection, logger: Logger) async throws -> Report? {
        try await select(where: "id = \(id) AND user_id = \(userID)", on: connection, logger: logger).first
    }

    private static func select(where condition: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [Report] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(columns) FROM reports WHERE ")
        query.sql += condition.sql
        query.binds = condition.binds
        let rows = try await connection.query(query, logger: logger)
        var reports: [Report] = []
        for try await (id, type, format, from, to, channels, status, progress, count, size, sha, error, key, created, ready, expires)
            in rows.decode((String, String, String, String, String, [String], String, Int32, Int64?, Int64?, String?, String?, String?, Date,
                            Date?, Date?).self) {
            reports.append(Report(id: id, type: try DatabaseValue.decode(type, column: "reports.type"),
                                  format: try DatabaseValue.decode(format, column: "reports.format"), from: from, to: to, channelIDs: channels,
                                  status: try DatabaseValue.decode(status, column: "reports.status"), progress: Int(progress), rows: count,
                                  sizeBytes: size, sha256: sha, error: error, storageKey: key, createdAt: created, readyAt: ready,
                                  expiresAt: expires))
        }
        return reports
    }
}
