import Foundation
import Logging
import PostgresNIO

/// Who acts on the fleet: an operator signed in to the API, or someone at the command line
/// (which reaches the database directly and so is trusted as an operator).
public enum OperatorActor: Sendable, Equatable {
    case user(id: String)
    case commandLine(login: String)

    /// As the audit log records it.
    public var recorded: String {
        switch self {
        case let .user(id): id
        case let .commandLine(login): "cli:\(login)"
        }
    }
}

/// One line of the audit log.
public struct OperatorAuditEntry: Sendable, Equatable {
    public var id: Int64
    public var actor: String
    public var action: String
    public var target: String?
    /// The arguments or the bulk filter, as JSON text.
    public var details: String
    public var affected: Int
    public var at: Date
}

/// Runs a spared job's work again through the domain that owns its state (a failed video's
/// stages), where retrying the job alone would leave that state behind.
public protocol SparedJobRetry: Sendable {
    /// Sends `job`'s work back through its domain, calling `audit` in the same transaction
    /// with the job that now does it, so the action and its audit line commit together.
    /// - Returns: the id of the job that now does it (often a new one).
    /// - Throws: `QueueError(.invalidState)` when the domain's state does not allow it.
    func retry(_ job: Job, audit: @Sendable (_ successor: Int64, _ details: [String: String], PostgresConnection) async throws -> Void)
        async throws -> Int64
}

/// What operators do to the queues and jobs, from the console (the admin API) or the command
/// line: one implementation, every action written to the audit log (`operator_audit`) with
/// who, what, its arguments and how many jobs it changed.
public struct OperatorActions: Sendable {
    public let actor: OperatorActor
    public let queues: QueueStore
    public let jobs: JobStore
    /// Job kinds (by prefix) whose jobs belong to something of the domain that keeps its own
    /// state (a video and its stages): operators cancel or retry that, not its jobs, so the
    /// job actions leave them alone and say why.
    public let sparing: [String]
    /// What to do instead, for an operator who tried a spared job.
    public let sparingAdvice: String
    /// How a spared job is retried, if it can be.
    public let sparedRetry: (any SparedJobRetry)?
    let client: PostgresClient
    let logger: Logger

    /// The most jobs one bulk action changes.
    public static let bulkCap = 10_000

    public init(actor: OperatorActor, client: PostgresClient, logger: Logger, sparing: [String] = [], sparingAdvice: String = "",
                sparedRetry: (any SparedJobRetry)? = nil) {
        self.actor = actor
        self.sparedRetry = sparedRetry
        self.client = client
        self.logger = logger
        self.sparing = sparing
        self.sparingAdvice = sparingAdvice
        self.queues = QueueStore(client: client, logger: logger)
        self.jobs = JobStore(client: client, logger: logger)
    }

    // MARK: Queues

    /// Stops every worker claiming from `queue`; running jobs go on.
    public func pause(queue: String) async throws {
        try await requireQueue(queue)
        try await queues.pause(queue)
        try await record("queue.pause", target: queue)
    }

    /// Lets workers claim from `queue` again.
    public func resume(queue: String) async throws {
        try await requireQueue(queue)
        try await queues.resume(queue)
        try await record("queue.resume", target: queue)
    }

    /// Pauses `queue` to drain it: no job starts, the running ones finish.
    /// - Returns: how many of its jobs are running now (watch it fall with `queues.runningCount`).
    public func startDrain(queue: String) async throws -> Int {
        try await requireQueue(queue)
        try await queues.pause(queue)
        let running = try await queues.runningCount(queue)
        try await record("queue.drain", target: queue, affected: running)
        return running
    }

    /// Sets or (nil) removes the most jobs of `queue` running at once across the fleet.
    public func setLimit(queue: String, limit: Int?) async throws {
        if let limit, !(1...100_000).contains(limit) {
            throw QueueError(.invalidConfiguration, "limit must be from 1 to 100000, or none to remove it")
        }
        try await requireQueue(queue)
        try await queues.setConcurrencyLimit(queue, limit: limit)
        try await record("queue.limit", target: queue, details: ["limit": limit.map(String.init) ?? "none"])
    }

    private func requireQueue(_ name: String) async throws {
        guard QueueName.isValid(name) else { throw QueueError(.queueNotFound, "No queue has that name (1 to 64 letters, digits, '_', '-' or '.')") }
        guard try await queues.exists(name) else { throw QueueError(.queueNotFound, "No queue is called \(name)") }
    }

    // MARK: Jobs

    /// Runs a finished or waiting job again now. A spared job's work runs again through its
    /// domain (`sparedRetry`), possibly as a new job: the one returned.
    public func retry(job id: Int64) async throws -> Job {
        if let sparedRetry, let before = try await jobs.job(id: id), sparing.contains(where: { before.kind.hasPrefix($0) }) {
            let successor = try await sparedRetry.retry(before) { successor, details, connection in
                try await record("job.retry", target: String(id), details: details.merging(["job": String(successor)]) { $1 },
                                 affected: 1, on: connection)
            }
            guard let job = try await jobs.job(id: successor) else { throw QueueError(.jobNotFound, "No job \(successor)") }
            return job
        }
        let job = try await queueAction(id) { try await jobs.retry(id: id) }
        try await record("job.retry", target: String(id), affected: 1)
        return job
    }

    /// Cancels a waiting job, or asks a running one's worker to stop it.
    public func cancel(job id: Int64) async throws -> Job {
        let job = try await queueAction(id) {
            guard try await jobs.cancel(id: id) != nil else { return nil }
            return try await jobs.job(id: id)
        }
        try await record("job.cancel", target: String(id), affected: 1)
        return job
    }

    /// Gives up on a waiting job.
    public func discard(job id: Int64) async throws -> Job {
        let job = try await queueAction(id) { try await jobs.discard(id: id) }
        try await record("job.discard", target: String(id), affected: 1)
        return job
    }

    /// The job the action left, or `jobNotFound`; a spared job is refused before anything changes.
    private func queueAction(_ id: Int64, _ body: () async throws -> Job?) async throws -> Job {
        guard let before = try await jobs.job(id: id) else { throw QueueError(.jobNotFound, "No job \(id)") }
        if sparing.contains(where: { before.kind.hasPrefix($0) }) {
            throw QueueError(.invalidState, "job \(id) is a \(before.kind) job: \(sparingAdvice)")
        }
        guard let job = try await body() else { throw QueueError(.jobNotFound, "No job \(id)") }
        return job
    }

    /// How many jobs `action` would change among those `search` finds (spared kinds left out),
    /// counting up to one past `bulkCap`.
    public func preview(_ action: BulkJobAction, _ search: JobSearch) async throws -> Int {
        try await jobs.count(search, changedBy: action, sparing: sparing, cap: Self.bulkCap + 1)
    }

    /// Applies `action` to the jobs `search` finds, in one statement, once the operator has
    /// confirmed how many that is: nothing changes unless the statement finds exactly
    /// `confirmed` jobs (a filter that grew or shrank meanwhile is refused, to look again).
    /// - Returns: how many jobs changed.
    public func bulk(_ action: BulkJobAction, _ search: JobSearch, confirmed: Int) async throws -> Int {
        guard (0...Self.bulkCap).contains(confirmed) else {
            throw QueueError(.invalidConfiguration, "a bulk action changes 0 to \(Self.bulkCap) jobs at a time: narrow the filter")
        }
        let (found, changed) = try await jobs.apply(action, to: search, sparing: sparing, expected: confirmed)
        guard found == confirmed else {
            let counted = found > confirmed ? "more than \(confirmed)" : "\(found)"
            throw QueueError(.invalidState, "The filter now finds \(counted) jobs to \(action.rawValue), not \(confirmed): look again and confirm")
        }
        try await record("jobs.\(action.rawValue)", target: nil, details: Self.describe(search), affected: changed)
        return changed
    }

    static func describe(_ search: JobSearch) -> [String: String] {
        var details: [String: String] = [:]
        details["queue"] = search.queue
        details["kind"] = search.kind
        details["state"] = search.state?.rawValue
        details["worker"] = search.workerID
        details["created_from"] = search.createdFrom.map { ISO8601DateFormatter().string(from: $0) }
        details["created_to"] = search.createdTo.map { ISO8601DateFormatter().string(from: $0) }
        for (key, value) in search.args { details["args.\(key)"] = value }
        return details
    }

    // MARK: Audit

    /// Writes one line of the audit log (also for actions outside the queue: granting an operator).
    public func record(_ action: String, target: String?, details: [String: String] = [:], affected: Int = 0) async throws {
        try await record(action, target: target, details: details, affected: affected, on: client)
    }

    /// Writes an audit line through `executor` (a transaction's connection, to commit with the action).
    public func record(_ action: String, target: String?, details: [String: String] = [:], affected: Int = 0,
                       on executor: any PostgresExecutor) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(details), as: UTF8.self)
        try await executor.run("""
            INSERT INTO operator_audit (actor, action, target, details, affected)
            VALUES (\(actor.recorded), \(action), \(target), \(json)::jsonb, \(Int32(clamping: affected)))
            """, logger: logger)
        logger.notice("operator action", metadata: ["actor": "\(actor.recorded)", "action": "\(action)", "target": "\(target ?? "-")",
                                                    "affected": "\(affected)"])
    }

    /// The audit log, newest first, older than the entry `before`, at most `limit`.
    public func auditLog(before: Int64? = nil, limit: Int = 50) async throws -> [OperatorAuditEntry] {
        let rows = try await client.query("""
            SELECT id, actor, action, target, details::text, affected, created_at FROM operator_audit
             WHERE (\(before)::int8 IS NULL OR id < \(before))
             ORDER BY id DESC LIMIT \(Int32(max(1, min(limit, 500))))
            """, logger: logger)
        var entries: [OperatorAuditEntry] = []
        for try await (id, actor, action, target, details, affected, at) in rows.decode((Int64, String, String, String?, String, Int32, Date).self) {
            entries.append(OperatorAuditEntry(id: id, actor: actor, action: action, target: target, details: details, affected: Int(affected), at: at))
        }
        return entries
    }
}
