import Foundation
import Queue
import QueueTestSupport
import Testing

/// Real processes killed with SIGKILL: nothing is lost, leadership moves on.
@Suite struct CrashTests {
    @Test func aSigkilledWorkersJobIsRescuedAndCompletedElsewhere() async throws {
        try await withBinaryDatabase { db in
            let harness = Harness(db: db)
            let job = try await harness.store.insert(NewJob(kind: "sleep", args: #"{"ms": 600000}"#, queue: "crash"))
            let child = try ChildProcess.ytempire(
                ["worker", "--queues", "crash=1", "--lease", "1s", "--worker-id", "doomed"], databaseURL: db.urlString)
            try await expectEventually(timeout: .seconds(30), "the child worker never started the job") {
                let stored = try await harness.store.job(id: job.id)
                return stored?.state == .running && stored?.workerID == "doomed"
            }
            child.signal(SIGKILL)
            #expect(await child.waitForExit() != nil)

            // A survivor whose `sleep` is quick, and a dispatcher that rescues expired leases.
            var registry = JobRegistry()
            registry.register("sleep") { _ in .completed }
            try await harness.run(workers: [harness.workerConfiguration("survivor", queues: ["crash": 1])], registry: registry,
                                  maintenance: Harness.fastMaintenance) {
                try await expectEventually(timeout: .seconds(30)) { try await harness.store.job(id: job.id)?.state == .completed }
            }
            let stored = try #require(try await harness.store.job(id: job.id))
            #expect(stored.workerID == "survivor")
            #expect(stored.attempt == 2)
            #expect(stored.errors.first?.error.contains("lease expired") == true)
        }
    }

    @Test func sigtermDrainsAChildWorkerAndGivesLongJobsBack() async throws {
        try await withBinaryDatabase { db in
            let harness = Harness(db: db)
            let job = try await harness.store.insert(NewJob(kind: "sleep", args: #"{"ms": 600000}"#, queue: "deploy"))
            let child = try ChildProcess.ytempire(
                ["worker", "--queues", "deploy=1", "--grace", "500ms", "--worker-id", "rolling"], databaseURL: db.urlString)
            try await expectEventually(timeout: .seconds(30)) { try await harness.store.job(id: job.id)?.state == .running }
            child.signal(SIGTERM)
            #expect(await child.waitForExit() == 0)
            let stored = try #require(try await harness.store.job(id: job.id))
            #expect(stored.state == .available)
            // Given back: the allowance grows, the claim keeps its number.
            #expect(stored.attempt == 1 && stored.maxAttempts == NewJob(kind: "sleep").maxAttempts + 1)
        }
    }

    @Test func twoDispatchersElectOneLeaderAndTheOtherTakesOverWhenItDies() async throws {
        try await withBinaryDatabase { db in
            let leaders = LeaderStore(client: db.client, logger: db.logger)
            let arguments = ["dispatcher", "--leader-ttl", "3s"]
            let first = try ChildProcess.ytempire(arguments, databaseURL: db.urlString)
            let second = try ChildProcess.ytempire(arguments, databaseURL: db.urlString)
            let children = [first, second]
            try await expectEventually(timeout: .seconds(30)) { try await leaders.currentLeader(name: "maintenance") != nil }
            // Exactly one holds the lease, and it stays with it while it lives.
            let leaderID = try #require(try await leaders.currentLeader(name: "maintenance"))
            let leader = try #require(children.first { leaderID.contains("-\($0.pid)-") })
            let follower = try #require(children.first { $0 !== leader })
            // It renews its lease past a whole first term (3 s) without ever being elected anew.
            let elected = try await db.scalar("SELECT (extract(epoch FROM elected_at) * 1000000)::int8 FROM leader WHERE name = 'maintenance'")
            try await expectEventually(timeout: .seconds(30)) {
                try await db.scalar("""
                    SELECT count(*) FROM leader
                     WHERE name = 'maintenance' AND leader_id = \(leaderID) AND (extract(epoch FROM elected_at) * 1000000)::int8 = \(elected)
                       AND expires_at > elected_at + interval '6 seconds'
                    """) == 1
            }
            #expect(try await leaders.currentLeader(name: "maintenance") == leaderID)

            leader.signal(SIGKILL)
            #expect(await leader.waitForExit() != nil)
            try await expectEventually(timeout: .seconds(15)) {
                try await leaders.currentLeader(name: "maintenance")?.contains("-\(follower.pid)-") == true
            }
            // The new leader does the maintenance: a due scheduled job gets promoted.
            let store = JobStore(client: db.client, logger: db.logger)
            let due = try await store.insert(NewJob(kind: "noop", runAt: Date().addingTimeInterval(0.2)))
            try await expectEventually(timeout: .seconds(30)) { try await store.job(id: due.id)?.state == .available }
            follower.signal(SIGTERM)
            #expect(await follower.waitForExit() == 0)
            #expect(try await leaders.currentLeader(name: "maintenance") == nil, "a cleanly stopped leader resigns")
        }
    }
}
