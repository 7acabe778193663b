import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A worker process's job engine: claims jobs from its queues in batches sized to its free
/// slots, runs their handlers, batches completions, extends leases and stops jobs on request.
///
/// On graceful shutdown (SIGTERM) it stops claiming, lets running jobs finish within
/// `shutdownGrace`, then gives the rest back to `available` without spending an attempt.
public final class Worker: Service, Sendable {
    public let configuration: WorkerConfiguration
    let store: JobStore
    let queueStore: QueueStore
    let workerStore: WorkerStore
    let registry: JobRegistry
    let notifier: Notifier
    let logger: Logger
    let running = RunningJobs()
    let completer: Completer
    let stopping = Mutex<Bool>(false)
    let kicks: [String: AsyncStream<Void>.Continuation]
    let kickStreams: [String: AsyncStream<Void>]
    let backlog = Mutex<Set<String>>([])
    let metrics: WorkerMetrics
    /// Called after each claim with the queue and how many jobs it took (tests observe rounds).
    let onClaimRound: @Sendable (String, Int) -> Void

    /// - Parameters:
    ///   - client: the pool claims, completions and heartbeats use (claims and completions commit
    ///     asynchronously by themselves, see `JobStore.asynchronousCommit`).
    ///   - handlerStore: the store handed to handlers for their own durable writes; default one on `client`.
    ///   - onCompleted: called with the ids of each committed completion batch (benchmarks count with it).
    ///   - onClaimRound: called after each claim with the queue and the number of jobs claimed
    ///     (tests wait for rounds instead of sleeping).
    public init(configuration: WorkerConfiguration, client: PostgresClient, registry: JobRegistry, notifier: Notifier,
                logger: Logger, onCompleted: @escaping @Sendable ([Int64]) -> Void = { _ in },
                onClaimRound: @escaping @Sendable (String, Int) -> Void = { _, _ in }) {
        self.configuration = configuration
        self.onClaimRound = onClaimRound
        var logger = logger
        logger[metadataKey: "worker.id"] = "\(configuration.id)"
        self.logger = logger
        self.store = JobStore(client: client, logger: logger)
        self.queueStore = QueueStore(client: client, logger: logger)
        self.workerStore = WorkerStore(client: client, logger: logger)
        self.registry = registry
        self.notifier = notifier
        let metrics = WorkerMetrics()
        self.metrics = metrics
        self.completer = Completer(store: store, batchSize: configuration.completionBatchSize, deadline: configuration.lease,
                                   logger: logger, onCompleted: { leases in
                                       metrics.completed.increment(by: leases.count)
                                       onCompleted(leases.map(\.jobID))
                                   })
        var kicks: [String: AsyncStream<Void>.Continuation] = [:]
        var streams: [String: AsyncStream<Void>] = [:]
        for queue in configuration.queues.keys {
            let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            kicks[queue] = continuation
            streams[queue] = stream
        }
        self.kicks = kicks
        self.kickStreams = streams
    }

    /// The number of jobs this worker is running now.
    public var runningCount: Int { running.count }

    public func run() async throws {
        let queues = configuration.queues.keys.sorted()
        try await untilAnswered("worker registration", logger: logger) { [queueStore, workerStore, configuration] in
            try await queueStore.ensure(queues)
            try await workerStore.register(id: configuration.id, host: ProcessInfo.processInfo.hostName,
                                           pid: Int(ProcessInfo.processInfo.processIdentifier), queues: queues)
        }
        logger.info("worker started", metadata: ["queues": "\(configuration.queues)"])
        let jobsEvents = notifier.subscribe(to: NotificationChannel.jobs)
        let controlEvents = notifier.subscribe(to: NotificationChannel.control)

        async let completions: Void = completer.run()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { helpers in
                helpers.addTask { await self.heartbeatLoop() }
                helpers.addTask { await self.fenceLoop() }
                helpers.addTask { await self.pollLoop() }
                helpers.addTask { await self.listen(jobsEvents) }
                helpers.addTask { await self.listen(controlEvents) }
                await withTaskGroup(of: Void.self) { producers in
                    for queue in queues {
                        producers.addTask { await self.produce(queue: queue) }
                    }
                }
                helpers.cancelAll()
            }
        } onGracefulShutdown: {
            self.beginShutdown()
        }
        completer.finish()
        await completions
        try? await withDeadline(heartbeatDeadline) { [workerStore, configuration] in
            try await workerStore.deregister(id: configuration.id)
        }
        logger.info("worker stopped")
    }

    /// Stops claiming and lets the producers wind down; the grace timer starts.
    public func beginShutdown() {
        let first = stopping.withLock { wasStopping in
            defer { wasStopping = true }
            return !wasStopping
        }
        guard first else { return }
        logger.info("worker draining", metadata: ["running": "\(running.count)"])
        for kick in kicks.values { kick.finish() }
    }

    var isStopping: Bool { stopping.withLock { $0 } }

    /// How long a heartbeat's call may go unanswered: one beat, a second at least.
    var heartbeatDeadline: Duration { max(configuration.heartbeatInterval, .seconds(1)) }

    func kick(_ queue: String) {
        kicks[queue]?.yield()
    }

    /// Wakes producers when nothing was heard for a poll interval, in case a NOTIFY was lost.
    private func pollLoop() async {
        while !Task.isCancelled && !isStopping {
            try? await Task.sleep(for: configuration.pollInterval)
            for queue in kicks.keys { kick(queue) }
        }
    }

    private func listen(_ events: AsyncStream<NotifierEvent>) async {
        for await event in events {
            switch event {
            case .reconnected:
                for queue in kicks.keys { kick(queue) }
            case .notification(let payload):
                if kicks[payload] != nil {
                    kick(payload)
                } else if payload.hasPrefix("cancel:"), let id = Int64(payload.dropFirst("cancel:".count)) {
                    running.stop(jobID: id, reason: .cancelRequested)
                } else if payload.hasPrefix("resume:") {
                    kick(String(payload.dropFirst("resume:".count)))
                }
            }
            if Task.isCancelled { return }
        }
    }

    /// Extends leases of running and not-yet-completed jobs; stops the ones taken away or
    /// asked to cancel (the backstop for a lost cancel notification).
    private func heartbeatLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.heartbeatInterval)
            if Task.isCancelled { return }
            let runningLeases = running.leases
            let sentAt = ContinuousClock.now
            do {
                let leases = runningLeases + completer.pending
                // One heartbeat's time (a second at least): a lost answer is tried again at the next
                // beat, not after the lease.
                let held = try await withDeadline(heartbeatDeadline) { [store, configuration] in
                    try await store.extendLeases(leases, by: configuration.lease)
                }
                for lease in runningLeases {
                    switch held[lease] {
                    case nil: stopUnheld(lease, reason: .leaseLost)
                    case true?: running.stop(lease, reason: .cancelRequested)
                    case false?: break
                    }
                }
                running.renew(held.keys, until: sentAt + configuration.lease)
                try await withDeadline(heartbeatDeadline) { [workerStore, configuration] in
                    try await workerStore.heartbeat(id: configuration.id)
                }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
    }
}

extension Worker {
    /// Stops the handlers whose lease is about to run out unextended, before another worker
    /// can take their jobs: a worker cut off from the database, or one whose heartbeat hangs,
    /// cannot learn that its jobs were rescued, so it assumes they will be. Independent of the
    /// heartbeat, which may be stuck on a dead connection.
    func fenceLoop() async {
        let margin = configuration.fenceMargin
        while !Task.isCancelled {
            try? await Task.sleep(for: margin / 2)
            for lease in running.expiring(before: .now + margin) { stopUnheld(lease, reason: .leaseExpiring) }
            for (lease, queue) in running.overdue(after: configuration.lease) {
                logger.warning("job handler still running a lease after it was stopped; its result will be refused", metadata: [
                    "job.id": "\(lease.jobID)", "job.attempt": "\(lease.attempt)", "queue": "\(queue)",
                ])
            }
        }
    }

    /// Stops an attempt this worker may no longer hold, and says so at once: the decision is
    /// what matters to whoever reads the log (a handler may take a while to return).
    func stopUnheld(_ lease: JobLease, reason: StopReason) {
        let queue = running.queue(of: lease)
        guard running.stop(lease, reason: reason) else { return }
        logger.warning("job stopped: it may no longer be this worker's", metadata: [
            "job.id": "\(lease.jobID)", "job.attempt": "\(lease.attempt)", "queue": "\(queue ?? "?")",
            "reason": "\(reason == .leaseLost ? "taken over" : "lease running out unextended")",
        ])
    }
}

/// The worker's metrics (low-cardinality labels only).
struct WorkerMetrics: Sendable {
    let completed = Counter(label: "ytempire_jobs_completed_total")
    let failed = Counter(label: "ytempire_jobs_failed_total")
    let claimed = Counter(label: "ytempire_jobs_claimed_total")
}
