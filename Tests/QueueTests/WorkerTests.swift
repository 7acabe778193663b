import Foundation
import Queue
import Synchronization
import QueueTestSupport
import Testing

@Suite struct WorkerTests {
    @Test func eightWorkersCompleteTenThousandJobsExactlyOnce() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let runs = Mutex<[Int64: Int]>([:])
            var registry = JobRegistry()
            registry.register("count") { context in
                runs.withLock { $0[context.job.id, default: 0] += 1 }
                return .completed
            }
            let inserted = try await harness.store.insert((0..<10_000).map { _ in NewJob(kind: "count") })
            let workers = (0..<8).map { harness.workerConfiguration("w\($0)", queues: ["default": 25]) }
            try await harness.run(workers: workers, registry: registry) {
                try await expectEventually(timeout: .seconds(120)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'completed'") == 10_000
                }
            }
            let counts = runs.withLock { $0 }
            #expect(counts.count == 10_000)
            #expect(counts.values.allSatisfy { $0 == 1 })
            #expect(Set(counts.keys) == Set(inserted.map(\.id)))
            // Work was spread: more than one worker completed jobs.
            let distinctWorkers = try await db.scalar("SELECT count(DISTINCT worker_id) FROM jobs")
            #expect(distinctWorkers > 1)
        }
    }

    @Test func failuresRetryWithBackoffThenDiscard() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("flaky") { context in
                if context.job.attempt < 3 { throw TestFailure(message: "boom \(context.job.attempt)") }
                return .completed
            }
            registry.register("broken") { _ in throw TestFailure(message: "always") }
            let flaky = try await harness.store.insert(NewJob(kind: "flaky", maxAttempts: 5))
            let broken = try await harness.store.insert(NewJob(kind: "broken", maxAttempts: 2))
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry, maintenance: Harness.fastMaintenance) {
                try await expectEventually {
                    let flakyState = try await harness.store.job(id: flaky.id)?.state
                    let brokenState = try await harness.store.job(id: broken.id)?.state
                    return flakyState == .completed && brokenState == .discarded
                }
            }
            let flakyJob = try #require(try await harness.store.job(id: flaky.id))
            #expect(flakyJob.attempt == 3)
            #expect(flakyJob.errors.map(\.attempt) == [1, 2])
            #expect(flakyJob.errors.map(\.error) == ["boom 1", "boom 2"])
            let brokenJob = try #require(try await harness.store.job(id: broken.id))
            #expect(brokenJob.attempt == 2)
            #expect(brokenJob.errors.count == 2)
            #expect(brokenJob.finishedAt != nil)
        }
    }

    @Test func snoozeRunsAgainWithoutSpendingAnAttempt() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let runs = Atomic<Int>(0)
            var registry = JobRegistry()
            registry.register("snoozer") { _ in
                runs.add(1, ordering: .relaxed).newValue < 3 ? .snooze(.milliseconds(100)) : .completed
            }
            let job = try await harness.store.insert(NewJob(kind: "snoozer", maxAttempts: 1))
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry, maintenance: Harness.fastMaintenance) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .completed }
            }
            #expect(runs.load(ordering: .relaxed) == 3)
            // Each claim has a number of its own; the two snoozes raised the allowance instead.
            let done = try #require(try await harness.store.job(id: job.id))
            #expect(done.attempt == 3 && done.maxAttempts == 3)
        }
    }

    @Test func handlerCanCancelItself() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("quitter") { _ in .cancel("video was deleted") }
            let job = try await harness.store.insert(NewJob(kind: "quitter"))
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .cancelled }
            }
            #expect(try await harness.store.job(id: job.id)?.errors.last?.error == "cancelled: video was deleted")
        }
    }

    @Test func timeoutsPerKindFailTheAttempt() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("slow", timeout: .milliseconds(200)) { _ in
                try await Task.sleep(for: .seconds(30))
                return .completed
            }
            let job = try await harness.store.insert(NewJob(kind: "slow", maxAttempts: 1))
            try await harness.run(workers: [harness.workerConfiguration()], registry: registry) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .discarded }
            }
            let stored = try #require(try await harness.store.job(id: job.id))
            #expect(stored.errors.first?.error.hasPrefix("timed out") == true)
        }
    }

    @Test func unknownKindsFailWithAClearError() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let job = try await harness.store.insert(NewJob(kind: "nobody-handles-this", maxAttempts: 1))
            try await harness.run(workers: [harness.workerConfiguration()], registry: JobRegistry()) {
                try await expectEventually { try await harness.store.job(id: job.id)?.state == .discarded }
            }
            #expect(try await harness.store.job(id: job.id)?.errors.first?.error.contains("no handler") == true)
        }
    }

    @Test func prioritiesAndScheduledJobsRunInOrder() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let order = Mutex<[String]>([])
            var registry = JobRegistry()
            registry.register("record") { context in
                struct Args: Decodable { var name: String }
                let name = try context.args(Args.self).name
                order.withLock { $0.append(name) }
                return .completed
            }
            let inAnHour = Date().addingTimeInterval(3600)
            let inserted = try await harness.store.insert([
                NewJob(kind: "record", args: #"{"name": "low"}"#, priority: 5),
                NewJob(kind: "record", args: #"{"name": "later"}"#, priority: -10, runAt: inAnHour),
                NewJob(kind: "record", args: #"{"name": "high"}"#, priority: -1),
                NewJob(kind: "record", args: #"{"name": "mid"}"#, priority: 0),
            ])
            // One slot, so jobs run one at a time in claim order.
            let worker = harness.workerConfiguration(queues: ["default": 1])
            try await harness.run(workers: [worker], registry: registry, maintenance: Harness.fastMaintenance) {
                try await expectEventually { order.withLock { $0.count } == 3 }
                // The scheduled job waits for its time, whatever its priority; when the time
                // comes the scheduler makes it available and it runs.
                #expect(try await harness.store.job(id: inserted[1].id)?.state == .scheduled)
                try await db.client.query("UPDATE jobs SET run_at = now() WHERE id = \(inserted[1].id)", logger: db.logger)
                try await expectEventually { order.withLock { $0.count } == 4 }
            }
            #expect(order.withLock { $0 } == ["high", "mid", "low", "later"])
        }
    }

    @Test func concurrencyLimitHoldsAcrossWorkers() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            let current = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
            var registry = JobRegistry()
            registry.register("held") { _ in
                let now = current.add(1, ordering: .relaxed).newValue
                peak.max(now, ordering: .relaxed)
                // Until three run at once, each waits for the others: the limit is reached, not
                // merely respected (a worker leaving slots unused would time out here).
                _ = try await eventually(timeout: .seconds(30)) { peak.load(ordering: .relaxed) >= 3 }
                current.subtract(1, ordering: .relaxed)
                return .completed
            }
            try await harness.queues.setConcurrencyLimit("limited", limit: 3)
            try await harness.store.insert((0..<200).map { _ in NewJob(kind: "held", queue: "limited") })
            let workers = (0..<4).map { harness.workerConfiguration("lim\($0)", queues: ["limited": 10]) }
            try await harness.run(workers: workers, registry: registry) {
                try await expectEventually(timeout: .seconds(120)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'completed'") == 200
                }
            }
            #expect(peak.load(ordering: .relaxed) == 3)
        }
    }

    /// Workers that never poll still find the slots freed in a limited queue: ending a running
    /// job of such a queue wakes them.
    @Test func freedSlotsInALimitedQueueWakeWaitingWorkers() async throws {
        try await withQueueDatabase { db in
            let harness = Harness(db: db)
            var registry = JobRegistry()
            registry.register("brief") { _ in
                try await Task.sleep(for: .milliseconds(10))
                return .completed
            }
            registry.register("failing") { _ in throw TestFailure(message: "fails once and is discarded") }
            try await harness.queues.setConcurrencyLimit("narrow", limit: 1)
            try await harness.store.insert([NewJob(kind: "failing", queue: "narrow", maxAttempts: 1)]
                + (0..<10).map { _ in NewJob(kind: "brief", queue: "narrow") })
            let workers = (0..<2).map { harness.workerConfiguration("narrow\($0)", queues: ["narrow": 4], poll: .seconds(3600)) }
            try await harness.run(workers: workers, registry: registry) {
                try await expectEventually(timeout: .seconds(120)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE state IN ('completed', 'discarded')") == 11
                }
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
