import Foundation
import PostgresNIO
import Queue
import QueueTestSupport
import Testing

/// Each maintenance chore's `runOnce`, against rows placed in the past by hand.
@Suite struct MaintenanceTests {
    @Test func rescuerReturnsExpiredJobsAndDiscardsSpentOnes() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let retry = try await store.insert(NewJob(kind: "noop", maxAttempts: 3))
            let spent = try await store.insert(NewJob(kind: "noop", maxAttempts: 1))
            let cancelled = try await store.insert(NewJob(kind: "noop", maxAttempts: 3))
            let healthy = try await store.insert(NewJob(kind: "noop", maxAttempts: 3))
            _ = try await store.claim(queue: "default", workerID: "gone", limit: 4, lease: .seconds(60))
            try await db.client.query("UPDATE jobs SET lease_until = now() - interval '1 second' WHERE id <> \(healthy.id)", logger: db.logger)
            try await db.client.query("UPDATE jobs SET cancel_requested_at = now() WHERE id = \(cancelled.id)", logger: db.logger)
            let rescued = try await JobRescuer(store: store, interval: .seconds(1)).runOnce()
            #expect(rescued == 3)
            #expect(try await store.job(id: retry.id)?.state == .retryable)
            #expect(try await store.job(id: spent.id)?.state == .discarded)
            #expect(try await store.job(id: cancelled.id)?.state == .cancelled)
            #expect(try await store.job(id: healthy.id)?.state == .running)
            #expect(try await store.job(id: retry.id)?.errors.first?.error.contains("gone") == true)
            #expect(try await JobRescuer(store: store, interval: .seconds(1)).runOnce() == 0)
            #expect(try await JobScheduler(store: store, interval: .seconds(1)).runOnce() == 1)
            #expect(try await store.job(id: retry.id)?.state == .available)
        }
    }

    /// A job whose workers keep dying (a poison pill) is discarded after three rescues in a
    /// row instead of being handed to worker after worker; an attempt that ends normally
    /// starts the count again.
    @Test func aJobWhoseWorkersKeepDyingIsDiscardedAfterThreeRescuesInARow() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let rescuer = JobRescuer(store: store, interval: .seconds(1))
            let scheduler = JobScheduler(store: store, interval: .seconds(1))
            let poison = try await store.insert(NewJob(kind: "noop", maxAttempts: 25))
            let survivor = try await store.insert(NewJob(kind: "noop", queue: "other", maxAttempts: 25))
            /// Claims the job on a worker that then dies: its lease runs out.
            func dieWhileRunning(_ queue: String) async throws {
                #expect(try await store.claim(queue: queue, workerID: "doomed", limit: 1, lease: .seconds(60)).count == 1)
                try await db.client.query("UPDATE jobs SET lease_until = now() - interval '1 second' WHERE state = 'running'", logger: db.logger)
                #expect(try await rescuer.runOnce() == 1)
                _ = try await scheduler.runOnce()
            }
            try await dieWhileRunning("default")
            try await dieWhileRunning("default")
            #expect(try await store.job(id: poison.id)?.state == .available)
            try await dieWhileRunning("default")
            let discarded = try #require(try await store.job(id: poison.id))
            #expect(discarded.state == .discarded)
            #expect(discarded.errors.last?.error.contains("died 3 times in a row") == true)
            #expect(discarded.attempt == 3, "far from its 25 attempts")

            // Two deaths, then an attempt that fails normally, then two more: still retried.
            try await dieWhileRunning("other")
            try await dieWhileRunning("other")
            let claimed = try await store.claim(queue: "other", workerID: "alive", limit: 1, lease: .seconds(60))
            #expect(claimed.count == 1)
            let retry = JobTransition(state: .available, runAt: nil, error: JobErrorEntry(attempt: 3, at: Date(), error: "boom"), refundsAttempt: false)
            let held = try #require(claimed.first).lease(workerID: "alive")
            #expect(try await store.finish(held, transition: retry))
            try await dieWhileRunning("other")
            try await dieWhileRunning("other")
            #expect(try await store.job(id: survivor.id)?.state == .available)
            // The operator can retry a discarded poison pill; it gets its three rescues again.
            _ = try await store.retry(id: poison.id)
            try await dieWhileRunning("default")
            #expect(try await store.job(id: poison.id)?.state == .available)
        }
    }

    /// Autovacuum and ANALYZE run with an empty search_path: every function the jobs table's
    /// indexes call must resolve there, or Postgres never gathers its statistics.
    @Test func theJobsTableIsAnalysedWithAnEmptySearchPath() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            _ = try await store.insert(NewJob(kind: "sync", uniqueKey: "sync:1", uniqueStates: NewJob.unfinishedStates))
            try await db.client.withConnection { connection in
                var schema = ""
                for try await name in try await connection.query("SELECT current_schema()", logger: db.logger).decode(String.self) { schema = name }
                try await connection.query("SET search_path = ''", logger: db.logger)
                try await connection.query(PostgresQuery(unsafeSQL: "ANALYZE \"\(schema)\".jobs"), logger: db.logger)
                try await connection.query("RESET search_path", logger: db.logger)
            }
        }
    }

    @Test func schedulerPromotesOnlyDueJobs() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let due = try await store.insert(NewJob(kind: "noop", runAt: Date().addingTimeInterval(3600)))
            let notDue = try await store.insert(NewJob(kind: "noop", runAt: Date().addingTimeInterval(3600)))
            try await db.client.query("UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = \(due.id)", logger: db.logger)
            #expect(try await JobScheduler(store: store, interval: .seconds(1)).runOnce() == 1)
            #expect(try await store.job(id: due.id)?.state == .available)
            #expect(try await store.job(id: notDue.id)?.state == .scheduled)
        }
    }

    @Test func prunerDeletesFinishedJobsPastRetention() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let ids = try await store.insert((0..<4).map { _ in NewJob(kind: "noop") }).map(\.id)
            try await db.client.query("""
                UPDATE jobs SET state = 'completed', finished_at = now() - interval '2 days' WHERE id = \(ids[0]);
                """, logger: db.logger)
            try await db.client.query("UPDATE jobs SET state = 'completed', finished_at = now() WHERE id = \(ids[1])", logger: db.logger)
            try await db.client.query("UPDATE jobs SET state = 'discarded', finished_at = now() - interval '2 days' WHERE id = \(ids[2])", logger: db.logger)
            let pruner = JobPruner(store: store, interval: .seconds(1), completedRetention: .seconds(86_400), failedRetention: .seconds(7 * 86_400))
            #expect(try await pruner.runOnce() == 1)
            #expect(try await store.job(id: ids[0]) == nil)
            #expect(try await store.job(id: ids[1]) != nil)
            #expect(try await store.job(id: ids[2]) != nil, "failed jobs are kept longer for inspection")
            #expect(try await store.job(id: ids[3]) != nil)
        }
    }

    @Test func workerReaperExpiresSilentWorkers() async throws {
        try await withQueueDatabase { db in
            let workers = WorkerStore(client: db.client, logger: db.logger)
            try await workers.register(id: "alive", host: "h", pid: 1, queues: ["default"])
            try await workers.register(id: "dead", host: "h", pid: 2, queues: ["default"])
            try await db.client.query("UPDATE workers SET heartbeat_at = now() - interval '10 minutes' WHERE id = 'dead'", logger: db.logger)
            #expect(try await WorkerReaper(store: workers, interval: .seconds(1), silence: .seconds(120)).runOnce() == 1)
            #expect(try await workers.list().map(\.id) == ["alive"])
        }
    }

    @Test func leaseElectionInSQL() async throws {
        try await withQueueDatabase { db in
            let leaders = LeaderStore(client: db.client, logger: db.logger)
            #expect(try await leaders.acquireOrRenew(name: "m", candidate: "a", ttl: .seconds(10)))
            #expect(try await !leaders.acquireOrRenew(name: "m", candidate: "b", ttl: .seconds(10)))
            #expect(try await leaders.acquireOrRenew(name: "m", candidate: "a", ttl: .seconds(10)))
            try await db.client.query("UPDATE leader SET expires_at = now() - interval '1 second'", logger: db.logger)
            #expect(try await leaders.acquireOrRenew(name: "m", candidate: "b", ttl: .seconds(10)))
            #expect(try await leaders.currentLeader(name: "m") == "b")
            try await leaders.resign(name: "m", candidate: "a")
            #expect(try await leaders.currentLeader(name: "m") == "b", "only the holder can resign")
            try await leaders.resign(name: "m", candidate: "b")
            #expect(try await leaders.currentLeader(name: "m") == nil)
        }
    }
}

@Suite struct MigrationTests {
    @Test func processesRefuseAnOlderSchemaAndMigrateIsIdempotentUnderConcurrency() async throws {
        let migrations = try Migration.queue()
        let extra = Migration(version: 99, name: "0099_test_extra", sql: "CREATE TABLE extra (id int); CREATE INDEX extra_id ON extra (id);")
        try await withQueueDatabase { db in
            let current = Migrator(client: db.client, migrations: migrations, logger: db.logger)
            try await current.requireCurrent()
            let newer = Migrator(client: db.client, migrations: migrations + [extra], logger: db.logger)
            do {
                try await newer.requireCurrent()
                Issue.record("an outdated schema was accepted")
            } catch let error as QueueError {
                #expect(error.code == .schemaOutdated)
                #expect(error.message.contains("ytempire migrate"))
            }
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 { group.addTask { try await newer.migrate() } }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied == [99], "exactly one of the concurrent migrators applied it")
            try await newer.requireCurrent()
            #expect(try await db.scalar("SELECT count(*) FROM schema_migrations WHERE version = 99") == 1)
        }
    }
}
