import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// A periodic chore of the leader: rescue, promote, prune, expire. Each has a `runOnce`
/// that tests call directly.
public protocol MaintenanceTask: Sendable {
    /// A short name for logs.
    var name: String { get }
    /// How often the leader runs it.
    var interval: Duration { get }
    /// A notification channel whose NOTIFYs start a round at once, the interval remaining the
    /// fallback; nil (the default): the interval only.
    var wakeChannel: String? { get }
    /// Does one round of the work.
    /// - Returns: how many rows it changed (for logs).
    func runOnce() async throws -> Int
}

extension MaintenanceTask {
    public var wakeChannel: String? { nil }
}

/// Runs each maintenance task on its interval while this process is the leader, and at once
/// when its `wakeChannel` is notified. With a `ChoreRunStore` it records each task's runs for
/// operators: a failure at once, a success at most every `recordEvery` per task (the fastest
/// chores run every second).
public struct Maintainer: Service {
    public let elector: LeaderElector
    public let tasks: [any MaintenanceTask]
    /// Delivers the tasks' wake channels (it must LISTEN on them); nil: intervals only.
    public let notifier: Notifier?
    /// Where runs are recorded; nil: nowhere.
    public let runs: ChoreRunStore?
    public let recordEvery: Duration
    public let logger: Logger

    public init(elector: LeaderElector, tasks: [any MaintenanceTask], notifier: Notifier? = nil, runs: ChoreRunStore? = nil,
                recordEvery: Duration = .seconds(10), logger: Logger) {
        self.elector = elector
        self.tasks = tasks
        self.notifier = notifier
        self.runs = runs
        self.recordEvery = recordEvery
        self.logger = logger
    }

    /// How long one round of a chore may go unanswered before it is given up (and run again
    /// at its next turn): long enough for a big prune, short enough that a lost answer does
    /// not stop the rescue of a fleet's jobs for long.
    static let choreDeadline: Duration = .seconds(120)

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for task in tasks {
                    // Only a task with a wake channel (and a notifier to hear it) gets a doorbell.
                    let doorbell: Doorbell?
                    if let channel = task.wakeChannel, let notifier {
                        let bell = Doorbell()
                        let wakeups = notifier.subscribe(to: channel, buffer: 1)
                        group.addTask {
                            for await _ in wakeups { bell.ring() }
                        }
                        doorbell = bell
                    } else {
                        doorbell = nil
                    }
                    group.addTask {
                        var recorded: ContinuousClock.Instant?
                        while !Task.isCancelled {
                            if elector.isLeader {
                                let started = ContinuousClock.now
                                var changed = 0
                                var failure: String?
                                do {
                                    changed = try await withDeadline(Self.choreDeadline) { try await task.runOnce() }
                                    if changed > 0 {
                                        logger.debug("maintenance", metadata: ["task": "\(task.name)", "rows": "\(changed)"])
                                    }
                                } catch {
                                    // Stopping: not a failure of the chore.
                                    if Task.isCancelled { return }
                                    failure = String(reflecting: error).prefix(500).description
                                    logger.warning("maintenance failed", metadata: ["task": "\(task.name)", "error": "\(String(reflecting: error))"])
                                }
                                if let runs, failure != nil || recorded.map({ $0.duration(to: .now) >= recordEvery }) ?? true {
                                    do {
                                        let duration = started.duration(to: .now)
                                        try await withDeadline(.seconds(10)) { [changed, failure] in
                                            try await runs.record(task.name, leaderID: elector.candidateID, duration: duration,
                                                                  rows: changed, error: failure)
                                        }
                                        recorded = .now
                                    } catch {
                                        logger.debug("maintenance: run not recorded", metadata: ["task": "\(task.name)", "error": "\(error)"])
                                    }
                                }
                            }
                            if let doorbell {
                                await doorbell.wait(timeout: task.interval)
                            } else {
                                try? await Task.sleep(for: task.interval)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The queue engine's standard chores with their default intervals; `periodicJobs` are the
    /// schedules the code defines (written on the enqueuer's first round as leader).
    public static func queueTasks(jobs: JobStore, workers: WorkerStore, configuration: MaintenanceConfiguration,
                                  periodicJobs: [PeriodicJob] = []) -> [any MaintenanceTask] {
        [
            JobRescuer(store: jobs, interval: configuration.rescueInterval),
            JobScheduler(store: jobs, interval: configuration.scheduleInterval),
            JobPruner(store: jobs, interval: configuration.pruneInterval,
                      completedRetention: configuration.completedRetention, failedRetention: configuration.failedRetention),
            WorkerReaper(store: workers, interval: configuration.pruneInterval, silence: configuration.workerSilence),
            PeriodicEnqueuer(store: PeriodicJobStore(client: jobs.client, logger: jobs.logger), definitions: periodicJobs,
                             interval: configuration.periodicInterval, now: configuration.now),
        ]
    }
}

/// Intervals and retentions of the queue's maintenance. Every default is production's.
public struct MaintenanceConfiguration: Sendable {
    /// How often expired leases are looked for. Default 5 s.
    public var rescueInterval: Duration = .seconds(5)
    /// How often due scheduled/retryable jobs are promoted. Default 1 s.
    public var scheduleInterval: Duration = .seconds(1)
    /// How often old rows are pruned. Default 1 min.
    public var pruneInterval: Duration = .seconds(60)
    /// How long completed jobs are kept. Default 1 day.
    public var completedRetention: Duration = .seconds(86_400)
    /// How long cancelled and discarded jobs are kept for inspection. Default 7 days.
    public var failedRetention: Duration = .seconds(7 * 86_400)
    /// A worker silent this long is removed from the registry. Default 2 min.
    public var workerSilence: Duration = .seconds(120)
    /// How often due periodic jobs are enqueued. Default 1 s.
    public var periodicInterval: Duration = .seconds(1)
    /// The clock periodic jobs are scheduled by (tests move it).
    public var now: @Sendable () -> Date = { Date() }

    public init() {}
}

/// Takes jobs back from workers whose lease expired, and discards a job whose workers died
/// `maximumRescues` times in a row (a poison pill), saying so at error level and counting it
/// in `ytempire_jobs_poisoned_total`, so the fleet lives on and the operator sees it
/// (`ytempire jobs list --state discarded`).
public struct JobRescuer: MaintenanceTask {
    public let store: JobStore
    public let interval: Duration
    public let maximumRescues: Int
    public var name: String { "rescuer" }
    public init(store: JobStore, interval: Duration, maximumRescues: Int = 3) {
        self.store = store
        self.interval = interval
        self.maximumRescues = maximumRescues
    }
    public func runOnce() async throws -> Int {
        let rescued = try await store.rescueExpired(maximumRescues: maximumRescues)
        for job in rescued.poisoned {
            store.logger.error("job discarded: its workers died repeatedly while running it", metadata: [
                "job.id": "\(job.id)", "job.kind": "\(job.kind)", "queue": "\(job.queue)", "rescues": "\(maximumRescues)",
            ])
            Counter(label: "ytempire_jobs_poisoned_total", dimensions: [("queue", job.queue)]).increment()
        }
        return rescued.count
    }
}

/// Makes due scheduled and retryable jobs available.
public struct JobScheduler: MaintenanceTask {
    public let store: JobStore
    public let interval: Duration
    public var name: String { "scheduler" }
    public init(store: JobStore, interval: Duration) {
        self.store = store
        self.interval = interval
    }
    public func runOnce() async throws -> Int { try await store.promoteDue() }
}

/// Deletes finished jobs past their retention.
public struct JobPruner: MaintenanceTask {
    public let store: JobStore
    public let interval: Duration
    public let completedRetention: Duration
    public let failedRetention: Duration
    public var name: String { "pruner" }
    public init(store: JobStore, interval: Duration, completedRetention: Duration, failedRetention: Duration) {
        self.store = store
        self.interval = interval
        self.completedRetention = completedRetention
        self.failedRetention = failedRetention
    }
    public func runOnce() async throws -> Int {
        try await store.pruneFinished(completedOlderThan: completedRetention, failedOlderThan: failedRetention)
    }
}

/// Removes workers that stopped heartbeating from the registry.
public struct WorkerReaper: MaintenanceTask {
    public let store: WorkerStore
    public let interval: Duration
    public let silence: Duration
    public var name: String { "worker-reaper" }
    public init(store: WorkerStore, interval: Duration, silence: Duration) {
        self.store = store
        self.interval = interval
        self.silence = silence
    }
    public func runOnce() async throws -> Int { try await store.expire(silentFor: silence) }
}
