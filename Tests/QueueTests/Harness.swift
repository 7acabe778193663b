import Foundation
import Logging
import PostgresNIO
import Queue
import ServiceLifecycle
import Synchronization
import QueueTestSupport
import Testing

/// Runs real workers (and optionally a dispatcher) against a test database while `body` runs.
struct Harness {
    let db: TestDatabase

    var store: JobStore { JobStore(client: db.client, logger: db.logger) }
    var queues: QueueStore { QueueStore(client: db.client, logger: db.logger) }

    /// A worker configuration with test-friendly timings.
    func workerConfiguration(_ id: String = "w-\(UInt16.random(in: 0...UInt16.max))", queues: [String: Int] = ["default": 10],
                             lease: Duration = .seconds(30), grace: Duration = .seconds(5), poll: Duration = .milliseconds(200)) -> WorkerConfiguration {
        WorkerConfiguration(id: id, queues: queues, lease: lease, pollInterval: poll, shutdownGrace: grace,
                            retryPolicy: RetryPolicy(base: 0.05, maximum: 0.2, jitter: 0))
    }

    /// Runs the given workers, each on its own client, plus a dispatcher when `maintenance` is
    /// given, until `body` returns; then shuts them down gracefully.
    func run<T: Sendable>(workers: [WorkerConfiguration], registry: JobRegistry, maintenance: MaintenanceConfiguration? = nil,
                          onCompleted: @escaping @Sendable ([Int64]) -> Void = { _ in }, rounds: ClaimRounds? = nil,
                          _ body: () async throws -> T) async throws -> T {
        let notifier = Notifier(client: db.client, logger: db.logger)
        var services: [any Service] = [notifier]
        for configuration in workers {
            let client = db.makeClient()
            services.append(client)
            services.append(Worker(configuration: configuration, client: client, registry: registry, notifier: notifier,
                                   logger: db.logger, onCompleted: onCompleted, onClaimRound: { _, _ in rounds?.record() }))
        }
        if let maintenance {
            let elector = LeaderElector(store: LeaderStore(client: db.client, logger: db.logger), candidateID: "dispatcher-test",
                                        ttl: .seconds(5), logger: db.logger)
            services.append(elector)
            services.append(Maintainer(elector: elector, tasks: Maintainer.queueTasks(
                jobs: store, workers: WorkerStore(client: db.client, logger: db.logger), configuration: maintenance), logger: db.logger))
        }
        return try await withRunningServices(services, logger: db.logger, body)
    }

    /// Fast maintenance intervals for tests.
    static var fastMaintenance: MaintenanceConfiguration {
        var configuration = MaintenanceConfiguration()
        configuration.rescueInterval = .milliseconds(100)
        configuration.scheduleInterval = .milliseconds(50)
        return configuration
    }
}

/// Counts the workers' claim rounds, so a test can wait for claims that found nothing instead
/// of sleeping and hoping a claim happened.
final class ClaimRounds: Sendable {
    private let count = Mutex(0)

    func record() { count.withLock { $0 += 1 } }

    var current: Int { count.withLock { $0 } }

    /// Waits until `more` rounds have started after this call (so they saw what was committed before it).
    func waitForRounds(_ more: Int = 2, timeout: Duration = .seconds(30)) async throws {
        let start = current
        try await expectEventually(timeout: timeout, "no \(more) claim rounds within \(timeout)") { current >= start + more }
    }
}

/// Records an issue unless `condition` comes true within `timeout`.
func expectEventually(timeout: Duration = .seconds(30), _ comment: Comment? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool) async throws {
    if try await !eventually(timeout: timeout, condition) {
        Issue.record(comment ?? "condition did not come true within \(timeout)", sourceLocation: sourceLocation)
    }
}
