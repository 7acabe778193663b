import Foundation
import Queue
import Synchronization
import QueueTestSupport
import Testing

/// Cancellation, pause, resume, drain and graceful shutdown.
@Suite struct ControlTests {
    @Test func cancellingARunningJobStopsItsHandlerAtOnce() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let stoppedAt = Mutex<ContinuousClock.Instant?>(nil)
            var registry = JobRegistry()
            registry.register("sleeper") { _ in
                do { try await Task.sleep(for: .seconds(60)) } catch {
                    stoppedAt.withLock { $0 = .now }
                    throw error
                }
                return .completed
            }
            let job = try await harness.store.insert(NewJob(kind: "sleeper"))
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .running }
                let requestedAt = ContinuousClock.now
                let state = try await harness.store.cancel(id: job.id)
                #expect(state == .running)
                try await expectEventually(timeout: .seconds(30)) { try await harness.store.job(id: job.id)?.state == .cancelled }
                let stopped = try #require(stoppedAt.withLock { $0 })
                // Stopped by the cancel (NOTIFY to its worker), long before its own 60 s end. The
                // latency itself (well under a second on an idle machine) is not asserted: a
                // loaded CI box stretches it.
                #expect(stopped - requestedAt < .seconds(30))
            }
            let stored = try #require(try await harness.store.job(id: job.id))
            #expect(stored.cancelRequestedAt != nil)
            #expect(stored.finishedAt != nil)
        }
    }

    @Test func cancellingAWaitingJobIsImmediateAndFinishedJobsRefuse() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let waiting = try await store.insert(NewJob(kind: "noop"))
            #expect(try await store.cancel(id: waiting.id) == .cancelled)
            await #expect(throws: QueueError.self) { try await store.cancel(id: waiting.id) }
            #expect(try await store.cancel(id: 999_999) == nil)
            // A retry brings it back.
            let retried = try await store.retry(id: waiting.id)
            #expect(retried?.state == .available)
        }
    }

    @Test func pauseStopsClaimsAndResumeRestartsThem() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("noop") { _ in .completed }
            try await harness.queues.pause("default")
            let job = try await harness.store.insert(NewJob(kind: "noop"))
            let rounds = ClaimRounds()
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry, rounds: rounds) {
                try await rounds.waitForRounds()  // claims that began after the insert and pause
                #expect(try await harness.store.job(id: job.id)?.state == .available)
                #expect(try await harness.queues.summary("default")?.paused == true)
                try await harness.queues.resume("default")
                try await expectEventually(timeout: .seconds(30)) { try await harness.store.job(id: job.id)?.state == .completed }
            }
        }
    }

    @Test func pausingWhileWorkersRunStopsNewClaimsAtOnce() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("noop") { _ in .completed }
            let rounds = ClaimRounds()
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry, rounds: rounds) {
                let first = try await harness.store.insert(NewJob(kind: "noop"))
                try await expectEventually { try await harness.store.job(id: first.id)?.state == .completed }
                try await harness.queues.pause("default")
                let second = try await harness.store.insert(NewJob(kind: "noop"))
                try await rounds.waitForRounds()
                #expect(try await harness.store.job(id: second.id)?.state == .available)
            }
        }
    }

    @Test func drainPausesThenReportsRunningJobsFallingToZero() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let started = Atomic<Int>(0)
            // The jobs hold until drain has reported them running, so the first count cannot
            // miss them however slow the machine is.
            let released = Atomic<Bool>(false)
            var registry = JobRegistry()
            registry.register("short") { _ in
                started.add(1, ordering: .relaxed)
                while !released.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
                try await Task.sleep(for: .milliseconds(300))
                return .completed
            }
            try await harness.store.insert((0..<20).map { _ in NewJob(kind: "short") })
            let rounds = ClaimRounds()
            try await harness.run(workers: [harness.workerConfiguration(queues: ["default": 3])], registry: registry, rounds: rounds) {
                try await expectEventually { started.load(ordering: .relaxed) >= 3 }
                let reported = Mutex<[Int]>([])
                try await harness.queues.drain("default", pollInterval: .milliseconds(50)) { count in
                    reported.withLock { $0.append(count) }
                    released.store(true, ordering: .relaxed)
                }
                let counts = reported.withLock { $0 }
                #expect(counts.first.map { $0 > 0 } == true)
                #expect(counts.last == 0)
                #expect(counts == counts.sorted(by: >))
                // Drained: nothing runs and, paused, nothing new starts.
                let before = started.load(ordering: .relaxed)
                try await rounds.waitForRounds()
                #expect(started.load(ordering: .relaxed) == before)
                #expect(try await harness.queues.runningCount("default") == 0)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'available'") > 0)
            }
        }
    }

    @Test func gracefulShutdownFinishesShortJobsAndReleasesLongOnes() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("sleep") { context in
                struct Args: Decodable { var ms: Int }
                try await Task.sleep(for: .milliseconds(try context.args(Args.self).ms))
                return .completed
            }
            let short = try await harness.store.insert(NewJob(kind: "sleep", args: #"{"ms": 300}"#))
            let long = try await harness.store.insert(NewJob(kind: "sleep", args: #"{"ms": 60000}"#))
            let worker = harness.workerConfiguration(grace: .seconds(5))
            try await harness.run(workers: [worker], registry: registry) {
                try await expectEventually {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'running'") == 2
                }
            }
            // The services were shut down as SIGTERM would: the short job finished in the
            // grace period, the long one went back to the queue with its attempt given back (the
            // allowance grows; the claim keeps its number).
            #expect(try await harness.store.job(id: short.id)?.state == .completed)
            let released = try #require(try await harness.store.job(id: long.id))
            #expect(released.state == .available)
            #expect(released.attempt == 1 && released.maxAttempts == NewJob(kind: "sleep").maxAttempts + 1)
            #expect(released.workerID == nil)
            #expect(try await db.scalar("SELECT count(*) FROM workers") == 0)
        }
    }

    @Test func leaseLossStopsTheLocalHandler() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let stopped = Atomic<Bool>(false)
            var registry = JobRegistry()
            registry.register("sleeper") { _ in
                do { try await Task.sleep(for: .seconds(60)) } catch {
                    stopped.store(true, ordering: .relaxed)
                    throw error
                }
                return .completed
            }
            let job = try await harness.store.insert(NewJob(kind: "sleeper"))
            let worker = WorkerConfiguration(id: "slow", queues: ["default": 1], lease: .seconds(30),
                                             heartbeatInterval: .milliseconds(100), pollInterval: .milliseconds(200))
            try await harness.run(workers: [worker], registry: registry) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .running }
                // Another process took the job (as the rescuer would after a stall).
                try await db.client.query("UPDATE jobs SET worker_id = 'someone-else' WHERE id = \(job.id)", logger: db.logger)
                try await expectEventually(timeout: .seconds(20)) { stopped.load(ordering: .relaxed) }
            }
            // The stopped worker wrote nothing over the other worker's claim.
            let stored = try #require(try await harness.store.job(id: job.id))
            #expect(stored.state == .running)
            #expect(stored.workerID == "someone-else")
        }
    }

    /// A worker whose heartbeat cannot get through (here it waits on the job's row, locked by
    /// another transaction, as it would on a connection to a database it is cut off from)
    /// stops its handler before its lease runs out, so no other worker runs the job while it
    /// still does; the rescuer then returns the job like one whose worker died, and it runs again.
    @Test func aWorkerThatCannotExtendItsLeaseStopsItsHandlerBeforeTheLeaseRunsOut() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let stoppedAt = Mutex<Date?>(nil)
            let attempts = Atomic<Int>(0)
            var registry = JobRegistry()
            registry.register("sleeper") { _ in
                guard attempts.add(1, ordering: .relaxed).newValue == 1 else { return .completed }
                do { try await Task.sleep(for: .seconds(60)) } catch {
                    stoppedAt.withLock { $0 = Date() }
                    throw error
                }
                return .completed
            }
            let job = try await harness.store.insert(NewJob(kind: "sleeper"))
            let worker = harness.workerConfiguration("cut-off", queues: ["default": 1], lease: .seconds(9))
            try await harness.run(workers: [worker], registry: registry, maintenance: Harness.fastMaintenance) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .running }
                let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
                let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
                async let holder: Void = db.client.withConnection { connection in
                    try await connection.query("BEGIN", logger: db.logger)
                    try await connection.query("SELECT 1 FROM jobs WHERE id = \(job.id) FOR UPDATE", logger: db.logger)
                    lockedSignal.yield()
                    for await _ in release { break }
                    try await connection.query("ROLLBACK", logger: db.logger)
                }
                for await _ in locked { break }
                try await expectEventually(timeout: .seconds(30)) { stoppedAt.withLock { $0 } != nil }
                let running = try #require(try await harness.store.job(id: job.id))
                let stopped = try #require(stoppedAt.withLock { $0 })
                let leaseUntil = try #require(running.leaseUntil)
                #expect(stopped < leaseUntil, "stopped at \(stopped), the lease ran until \(leaseUntil)")
                #expect(running.state == .running && running.workerID == "cut-off", "nobody took it meanwhile")
                releaseSignal.yield()
                try await holder
                try await expectEventually(timeout: .seconds(60)) { try await harness.store.job(id: job.id)?.state == .completed }
            }
            let stored = try #require(try await harness.store.job(id: job.id))
            let runs = attempts.load(ordering: .relaxed)
            #expect(runs == 2)
            #expect(stored.errors.map(\.error) == ["lease expired: worker cut-off stopped answering"])
        }
    }
}
