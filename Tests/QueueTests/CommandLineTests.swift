import Foundation
import Queue
import QueueTestSupport
import Testing

/// The operator commands, run as real processes.
@Suite struct CommandLineTests {
    func run(_ arguments: [String], databaseURL: String) async throws -> (status: Int32, output: String) {
        let child = try ChildProcess.ytempire(arguments, databaseURL: databaseURL)
        let status = try #require(await child.waitForExit(timeout: .seconds(60)))
        return (status, child.output)
    }

    @Test func badInputGivesOneClearLineAndNonZeroExit() async throws {
        let unreachable = try await run(["workers"], databaseURL: "postgres://postgres@127.0.0.1:1/none")
        #expect(unreachable.status != 0)
        #expect(unreachable.output.contains("cannot connect to the database at postgres@127.0.0.1:1/none"))
        #expect(unreachable.output.split(separator: "\n").count <= 2)
        let badURL = try await run(["workers"], databaseURL: "mysql://nope")
        #expect(badURL.status != 0)
        #expect(badURL.output.contains("DATABASE_URL must look like"))
        let badQueues = try await run(["worker", "--queues", "video=zero"], databaseURL: "postgres://postgres@127.0.0.1:1/none")
        #expect(badQueues.status != 0)
        #expect(badQueues.output.contains("slots for 'video'"))
        let badFlag = try await run(["queues", "list", "--no-such-flag"], databaseURL: "postgres://x@127.0.0.1:1/none")
        #expect(badFlag.status != 0)
        #expect(!badFlag.output.contains("Fatal error"))
    }

    @Test func operatorsManageQueuesAndJobs() async throws {
        try await withQueueDatabase { db in
            let url = db.urlString
            let insert = try await run(["jobs", "insert", "--kind", "noop", "--queue", "ops", "--unique-key", "k1"], databaseURL: url)
            #expect(insert.status == 0)
            #expect(insert.output.contains("inserted job"))
            let again = try await run(["jobs", "insert", "--kind", "noop", "--queue", "ops", "--unique-key", "k1"], databaseURL: url)
            #expect(again.output.contains("already exists"))
            #expect(try await run(["queues", "pause", "ops"], databaseURL: url).status == 0)
            let list = try await run(["queues", "list"], databaseURL: url)
            let line = try #require(list.output.split(separator: "\n").first { $0.hasPrefix("ops ") })
            #expect(line.contains("yes"))
            let id = try await db.scalar("SELECT id FROM jobs WHERE queue = 'ops'")
            let cancel = try await run(["jobs", "cancel", String(id)], databaseURL: url)
            #expect(cancel.output.contains("cancelled"))
            let show = try await run(["jobs", "show", String(id)], databaseURL: url)
            #expect(show.output.contains("state:        cancelled"))
            let missing = try await run(["jobs", "show", "987654"], databaseURL: url)
            #expect(missing.status != 0)
            #expect(missing.output.contains("job 987654 not found"))
            let drain = try await run(["queues", "drain", "ops"], databaseURL: url)
            #expect(drain.output.contains("drained ops"))
            // Each operator action is in the audit log, by the command line's login.
            #expect(try await db.scalar("""
                SELECT count(*) FROM operator_audit
                 WHERE actor LIKE 'cli:%' AND (action, target) IN (('queue.pause', 'ops'), ('job.cancel', \(String(id))), ('queue.drain', 'ops'))
                """) == 3)
        }
    }

    @Test func operatorsListPauseResumeAndRunSchedules() async throws {
        try await withQueueDatabase { db in
            let url = db.urlString
            let store = PeriodicJobStore(client: db.client, logger: db.logger)
            try await store.upsert(PeriodicJob(id: "weekly-report", kind: "noop", schedule: .cron(try CronSchedule("0 9 * * 1", timeZone: try #require(TimeZone(identifier: "Asia/Tokyo"))))))
            let list = try await run(["schedules", "list"], databaseURL: url)
            let line = try #require(list.output.split(separator: "\n").first { $0.hasPrefix("weekly-report ") }, "\(list.output)")
            #expect(line.contains("0 9 * * 1 (Asia/Tokyo)") && line.contains("noop"))
            #expect(try await run(["schedules", "pause", "weekly-report"], databaseURL: url).output.contains("paused weekly-report"))
            #expect(try await store.job(id: "weekly-report")?.paused == true)
            #expect(try await run(["schedules", "resume", "weekly-report"], databaseURL: url).output.contains("resumed weekly-report"))
            #expect(try await store.job(id: "weekly-report")?.paused == false)
            let ran = try await run(["schedules", "run", "weekly-report"], databaseURL: url)
            #expect(ran.status == 0 && ran.output.contains("enqueued job"))
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE unique_key LIKE 'periodic:weekly-report:manual:%'") == 1)
            let missing = try await run(["schedules", "pause", "nothing"], databaseURL: url)
            #expect(missing.status != 0 && missing.output.contains("no periodic job nothing"))
        }
    }
}
