package import Foundation
import Domain
package import OpenAPIRuntime
import Queue

/// Admin: the operator console's API over `OperatorActions` (the same implementation as the
/// command line's). Every operation checks that the caller is an operator now: the flag is
/// read with the session on each request, so a revoked operator is refused at once.
extension APIService {
    /// The operator's actions, or 403 for anyone else.
    func requireOperator() throws -> OperatorActions {
        let caller = try CurrentUser.require()
        guard caller.user.isOperator else { throw APIError(.forbidden, code: "forbidden", message: "Operators only") }
        return OperatorActions.fleet(actor: .user(id: caller.user.id), client: client, logger: logger)
    }

    func adminListQueues(_ input: Operations.AdminListQueues.Input) async throws -> Operations.AdminListQueues.Output {
        let actions = try requireOperator()
        let activity = try await actions.queues.activity(minutes: 5)
        return .ok(.init(body: .json(.init(queues: try await actions.queues.list().map { Self.adminQueue($0, activity[$0.name]) }))))
    }

    func adminActivity(_ input: Operations.AdminActivity.Input) async throws -> Operations.AdminActivity.Output {
        let actions = try requireOperator()
        let minutes = input.query.minutes ?? 60
        guard (1...1440).contains(minutes) else {
            throw APIError.validation("minutes must be from 1 to 1440", field: "minutes", issue: "out of range")
        }
        if let queue = input.query.queue, !QueueName.isValid(queue) {
            throw APIError.validation("queue is 1 to 64 letters, digits, '_', '-' or '.'", field: "queue", issue: "invalid")
        }
        let series = try await actions.queues.history(minutes: minutes, queue: input.query.queue)
        return .ok(.init(body: .json(.init(minutes: minutes, queue: input.query.queue, series: series.map(Self.adminMinute)))))
    }

    static func adminMinute(_ minute: QueueMinute) -> Components.Schemas.AdminMinute {
        .init(at: minute.at, completed: minute.completed, failed: minute.failed, started: minute.started,
              latencyP50Seconds: minute.latencyP50, latencyP95Seconds: minute.latencyP95)
    }

    func adminPauseQueue(_ input: Operations.AdminPauseQueue.Input) async throws -> Operations.AdminPauseQueue.Output {
        let actions = try requireOperator()
        try await actions.pause(queue: input.path.queue)
        return .ok(.init(body: .json(try await adminQueue(input.path.queue, actions))))
    }

    func adminResumeQueue(_ input: Operations.AdminResumeQueue.Input) async throws -> Operations.AdminResumeQueue.Output {
        let actions = try requireOperator()
        try await actions.resume(queue: input.path.queue)
        return .ok(.init(body: .json(try await adminQueue(input.path.queue, actions))))
    }

    func adminDrainQueue(_ input: Operations.AdminDrainQueue.Input) async throws -> Operations.AdminDrainQueue.Output {
        let actions = try requireOperator()
        _ = try await actions.startDrain(queue: input.path.queue)
        return .accepted(.init(body: .json(try await adminQueue(input.path.queue, actions))))
    }

    func adminSetQueueLimit(_ input: Operations.AdminSetQueueLimit.Input) async throws -> Operations.AdminSetQueueLimit.Output {
        let actions = try requireOperator()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        try await actions.setLimit(queue: input.path.queue, limit: body.limit)
        return .ok(.init(body: .json(try await adminQueue(input.path.queue, actions))))
    }

    func adminSearchJobs(_ input: Operations.AdminSearchJobs.Input) async throws -> Operations.AdminSearchJobs.Output {
        let actions = try requireOperator()
        let query = input.query
        var args: [String: String] = [:]
        if let arg = query.arg {
            guard let colon = arg.firstIndex(of: ":"), arg.index(after: colon) < arg.endIndex else {
                throw APIError.validation("arg must be name:value", field: "arg", issue: "invalid")
            }
            args[String(arg[..<colon])] = String(arg[arg.index(after: colon)...])
        }
        let search = try Self.jobSearch(queue: query.queue, kind: query.kind, state: query.state?.rawValue, worker: query.worker,
                                        createdFrom: query.createdFrom, createdTo: query.createdTo, args: args, argsField: "arg",
                                        valueLimit: 300)
        let (before, limit) = try Self.keyset(before: query.before, limit: query.limit)
        let jobs = try await actions.jobs.search(search, before: before, limit: limit)
        return .ok(.init(body: .json(.init(jobs: jobs.map(Self.adminJob), nextBefore: jobs.count == limit ? jobs.last?.id : nil))))
    }

    func adminGetJob(_ input: Operations.AdminGetJob.Input) async throws -> Operations.AdminGetJob.Output {
        let actions = try requireOperator()
        guard let job = try await actions.jobs.job(id: input.path.jobId) else { throw APIError(.notFound, code: "not_found", message: "No such job") }
        let owner = try await AdminJobOwners(client: client, logger: logger).owner(of: job)
        return .ok(.init(body: .json(.init(
            job: Self.adminJob(job), errors: job.errors.map { .init(attempt: $0.attempt, at: $0.at, error: $0.error) },
            user: owner.user.map { .init(id: $0.id, email: $0.email) },
            video: owner.video.map { .init(id: $0.id, title: $0.title, status: $0.status) }))))
    }

    func adminRetryJob(_ input: Operations.AdminRetryJob.Input) async throws -> Operations.AdminRetryJob.Output {
        .ok(.init(body: .json(Self.adminJob(try await requireOperator().retry(job: input.path.jobId)))))
    }

    func adminCancelJob(_ input: Operations.AdminCancelJob.Input) async throws -> Operations.AdminCancelJob.Output {
        .ok(.init(body: .json(Self.adminJob(try await requireOperator().cancel(job: input.path.jobId)))))
    }

    func adminDiscardJob(_ input: Operations.AdminDiscardJob.Input) async throws -> Operations.AdminDiscardJob.Output {
        .ok(.init(body: .json(Self.adminJob(try await requireOperator().discard(job: input.path.jobId)))))
    }

    func adminBulkJobs(_ input: Operations.AdminBulkJobs.Input) async throws -> Operations.AdminBulkJobs.Output {
        let actions = try requireOperator()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        guard let action = BulkJobAction(rawValue: body.action.rawValue) else { throw APIError.validation("Unknown action", field: "action") }
        let filter = body.filter
        let search = try Self.jobSearch(queue: filter.queue, kind: filter.kind, state: filter.state?.rawValue, worker: filter.worker,
                                        createdFrom: filter.createdFrom, createdTo: filter.createdTo,
                                        args: filter.args?.additionalProperties ?? [:], argsField: "filter.args", valueLimit: 200)
        if let confirmed = body.confirmCount, !(0...OperatorActions.bulkCap).contains(confirmed) {
            throw APIError.validation("confirm_count must be from 0 to \(OperatorActions.bulkCap)", field: "confirm_count", issue: "out of range")
        }
        guard let confirmed = body.confirmCount else {
            let matched = try await actions.preview(action, search)
            return .ok(.init(body: .json(.init(action: body.action, matched: matched, applied: false, changed: 0))))
        }
        let changed = try await actions.bulk(action, search, confirmed: confirmed)
        return .ok(.init(body: .json(.init(action: body.action, matched: confirmed, applied: true, changed: changed))))
    }

    func adminAuditLog(_ input: Operations.AdminAuditLog.Input) async throws -> Operations.AdminAuditLog.Output {
        let actions = try requireOperator()
        let (before, limit) = try Self.keyset(before: input.query.before, limit: input.query.limit)
        let entries = try await actions.auditLog(before: before, limit: limit)
        return .ok(.init(body: .json(.init(
            entries: try entries.map { entry in
                .init(id: entry.id, actor: entry.actor, action: entry.action, target: entry.target,
                      details: try JSONDecoder().decode(Components.Schemas.AdminAuditPage.EntriesPayloadPayload.DetailsPayload.self,
                                                        from: Data(entry.details.utf8)),
                      affected: entry.affected, at: entry.at)
            },
            nextBefore: entries.count == limit ? entries.last?.id : nil))))
    }

    func adminWorkers(_ input: Operations.AdminWorkers.Input) async throws -> Operations.AdminWorkers.Output {
        _ = try requireOperator()
        let (workers, leaders) = try await FleetOverview(client: client, logger: logger).workers()
        let schedules = try await PeriodicJobStore(client: client, logger: logger).list()
        let chores = try await ChoreRunStore(client: client, logger: logger).all()
        return .ok(.init(body: .json(.init(
            workers: workers.map {
                .init(id: $0.record.id, host: $0.record.host, pid: $0.record.pid, queues: $0.record.queues, startedAt: $0.record.startedAt,
                      heartbeatAt: $0.record.heartbeatAt, running: $0.running)
            },
            leaders: leaders.map { .init(name: $0.name, leaderId: $0.leaderID, electedAt: $0.electedAt, expiresAt: $0.expiresAt) },
            chores: chores.map {
                .init(name: $0.name, leaderId: $0.leaderID, lastRunAt: $0.lastRunAt, durationMs: $0.durationMilliseconds,
                      rowsChanged: $0.rowsChanged, lastError: $0.lastError, lastErrorAt: $0.lastErrorAt)
            },
            schedules: schedules.map {
                .init(id: $0.id, kind: $0.kind, queue: $0.queue, paused: $0.paused, nextRunAt: $0.nextRunAt, lastRunAt: $0.lastRunAt)
            }))))
    }

    func adminPipeline(_ input: Operations.AdminPipeline.Input) async throws -> Operations.AdminPipeline.Output {
        _ = try requireOperator()
        let pipeline = try await FleetOverview(client: client, logger: logger).pipeline()
        return .ok(.init(body: .json(.init(
            stages: pipeline.stages.map {
                .init(stage: $0.stage, pending: $0.pending, running: $0.running, completedLastHour: $0.completedLastHour,
                      failedLastHour: $0.failedLastHour, p50Seconds: $0.p50Seconds, p99Seconds: $0.p99Seconds)
            },
            videos: .init(additionalProperties: pipeline.videos), reservedNow: pipeline.reservedNow.dollars,
            failuresByCode: pipeline.failuresByCode.map { .init(code: $0.code, count: $0.count) }))))
    }

    func adminYouTube(_ input: Operations.AdminYouTube.Input) async throws -> Operations.AdminYouTube.Output {
        _ = try requireOperator()
        let youtube = try await FleetOverview(client: client, logger: logger).youtube()
        return .ok(.init(body: .json(.init(
            accounts: youtube.accounts.map {
                .init(accountId: $0.id, userId: $0.userID, email: $0.email, channelName: $0.channelName, status: $0.status, quotaUsed: $0.used,
                      quotaLimit: $0.limit, healthScore: $0.health, coolingUntil: $0.coolingUntil, lastError: $0.lastError)
            },
            waitingUploads: youtube.waitingUploads, nextReset: youtube.nextReset))))
    }

    func adminWebhooks(_ input: Operations.AdminWebhooks.Input) async throws -> Operations.AdminWebhooks.Output {
        _ = try requireOperator()
        let webhooks = try await FleetOverview(client: client, logger: logger).webhooks()
        return .ok(.init(body: .json(.init(
            endpoints: webhooks.endpoints.map {
                .init(endpointId: $0.id, userId: $0.userID, host: $0.host, status: $0.status, disabledReason: $0.disabledReason,
                      failingSince: $0.failingSince)
            },
            deliveries: .init(additionalProperties: webhooks.deliveries)))))
    }

    // MARK: Input

    /// A keyset page's cursor and size: `before` an id from 1, `limit` 1 to 500 (default 50).
    static func keyset(before: Int64?, limit: Int?) throws -> (before: Int64?, limit: Int) {
        if let before, before < 1 { throw APIError.validation("before must be a positive id", field: "before", issue: "out of range") }
        let limit = limit ?? 50
        guard (1...500).contains(limit) else { throw APIError.validation("limit must be between 1 and 500", field: "limit", issue: "out of range") }
        return (before, limit)
    }

    /// A job search from the console's filter, each part checked as the contract says.
    static func jobSearch(queue: String?, kind: String?, state: String?, worker: String?, createdFrom: Date?, createdTo: Date?,
                          args: [String: String], argsField: String, valueLimit: Int) throws -> JobSearch {
        if let queue, !QueueName.isValid(queue) {
            throw APIError.validation("queue must be 1 to 64 letters, digits, '_', '-' or '.'", field: "queue", issue: "invalid")
        }
        for (value, field, maximum) in [(kind, "kind", 100), (worker, "worker", 200)] {
            if let value, value.isEmpty { throw APIError.validation("\(field) must not be empty", field: field, issue: "empty") }
            try InputLimits.check(value, max: maximum, field: field)
        }
        guard args.count <= 10 else { throw APIError.validation("at most 10 arguments", field: argsField, issue: "too many") }
        for (key, value) in args {
            guard (1...64).contains(key.utf8.count),
                  key.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_") }) else {
                throw APIError.validation("an argument's name is 1 to 64 letters, digits or '_'", field: argsField, issue: "invalid")
            }
            try InputLimits.check(value, max: valueLimit, field: argsField)
        }
        return JobSearch(queue: queue, kind: kind, state: state.flatMap(JobState.init(rawValue:)), workerID: worker, createdFrom: createdFrom,
                         createdTo: createdTo, args: args)
    }

    // MARK: Shapes

    func adminQueue(_ name: String, _ actions: OperatorActions) async throws -> Components.Schemas.AdminQueue {
        guard QueueName.isValid(name), let summary = try await actions.queues.summary(name) else {
            throw APIError(.notFound, code: "not_found", message: "No such queue")
        }
        return Self.adminQueue(summary, try await actions.queues.activity(minutes: 5)[name])
    }

    static func adminQueue(_ queue: QueueSummary, _ activity: QueueActivity?) -> Components.Schemas.AdminQueue {
        .init(name: queue.name, paused: queue.paused, concurrencyLimit: queue.concurrencyLimit,
              counts: .init(additionalProperties: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, queue.count($0)) })),
              oldestAvailableSeconds: queue.oldestAvailableAge, running: queue.count(.running),
              completedLast5m: activity?.completed ?? 0, failedLast5m: activity?.failed ?? 0)
    }

    static func adminJob(_ job: Job) -> Components.Schemas.AdminJob {
        .init(id: job.id, queue: job.queue, kind: job.kind, state: .init(rawValue: job.state.rawValue) ?? .available, priority: job.priority,
              attempt: job.attempt, maxAttempts: job.maxAttempts, runAt: job.runAt, createdAt: job.createdAt, attemptedAt: job.attemptedAt,
              finishedAt: job.finishedAt, workerId: job.workerID, cancelRequested: job.cancelRequestedAt != nil, lastError: job.errors.last?.error,
              args: (try? JSONDecoder().decode(Components.Schemas.AdminJob.ArgsPayload.self, from: Data(job.args.utf8))) ?? .init())
    }
}
