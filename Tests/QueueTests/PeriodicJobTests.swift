import Foundation
import PostgresNIO
import Queue
import QueueTestSupport
import Synchronization
import Testing

/// Periodic jobs: schedules in Postgres enqueued by the leader as ordinary jobs, unique per
/// schedule and scheduled time, with failover and missed runs.
@Suite struct PeriodicJobTests {
    final class Clock: Sendable {
        let now: Mutex<Date>
        init(_ start: Date) { now = Mutex(start) }
        var current: Date { now.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    func scheduledTimes(_ db: TestDatabase, _ id: String) async throws -> [String] {
        let rows = try await db.client.query("""
            SELECT args->>'scheduled_at' FROM jobs WHERE unique_key LIKE \("periodic:\(id):%") ORDER BY args->>'scheduled_at'
            """, logger: db.logger)
        var times: [String] = []
        for try await time in rows.decode(String.self) { times.append(time) }
        return times
    }

    @Test func twoLeadersWithAClockMovingForwardNeitherDuplicateNorSkipARun() async throws {
        try await withQueueDatabase { db in
            let start = try Date("2026-12-05T00:00:30Z", strategy: .iso8601)
            let clock = Clock(start)
            let hourly = PeriodicJob(id: "hourly", kind: "noop", args: #"{"report": "r1"}"#, schedule: .cron(try CronSchedule("0 * * * *")))
            try await PeriodicJobStore(client: db.client, logger: db.logger).upsert(hourly, now: start)
            // Two dispatchers that both believe they lead, each with its own pool.
            let other = db.makeClient()
            let first = PeriodicEnqueuer(store: PeriodicJobStore(client: db.client, logger: db.logger), definitions: [hourly], now: { clock.current })
            let second = PeriodicEnqueuer(store: PeriodicJobStore(client: other, logger: db.logger), definitions: [hourly], now: { clock.current })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await other.run() }
                for _ in 0..<48 {
                    clock.advance(3600)
                    // Both leaders, at the same moment, several rounds each.
                    try await withThrowingTaskGroup(of: Int.self) { round in
                        for enqueuer in [first, second, first, second] { round.addTask { try await enqueuer.runOnce() } }
                        try await round.waitForAll()
                    }
                }
                group.cancelAll()
            }
            let times = try await scheduledTimes(db, "hourly")
            let expected = (1...48).map { start.addingTimeInterval(Double($0) * 3600 - 30).formatted(.iso8601) }
            #expect(times == expected, "one job per hour, none twice, none skipped")
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'noop' AND args->>'report' = 'r1'") == 48)
            let stored = try #require(try await PeriodicJobStore(client: db.client, logger: db.logger).job(id: "hourly"))
            #expect(stored.nextRunAt == start.addingTimeInterval(49 * 3600 - 30) && stored.lastRunAt == start.addingTimeInterval(48 * 3600 - 30))
        }
    }

    @Test func runsMissedWithoutALeaderComeOnceOrNotAtAllAndPausedSchedulesWait() async throws {
        try await withQueueDatabase { db in
            let clock = Clock(try Date("2026-12-05T00:00:30Z", strategy: .iso8601))
            let store = PeriodicJobStore(client: db.client, logger: db.logger)
            try await store.upsert(PeriodicJob(id: "catch-up", kind: "noop", schedule: .every(.seconds(600)), catchUp: true), now: clock.current)
            try await store.upsert(PeriodicJob(id: "skip", kind: "noop", schedule: .every(.seconds(600)), catchUp: false), now: clock.current)
            let enqueuer = PeriodicEnqueuer(store: store, now: { clock.current })
            // No leader for five hours: 30 runs of each were due.
            clock.advance(5 * 3600 + 5)
            #expect(try await enqueuer.runOnce() == 1)
            #expect(try await scheduledTimes(db, "catch-up") == [try Date("2026-12-05T05:00:30Z", strategy: .iso8601).formatted(.iso8601)])
            #expect(try await scheduledTimes(db, "skip").isEmpty)
            #expect(try await enqueuer.runOnce() == 0)
            // Back on time, both run again.
            clock.advance(600)
            #expect(try await enqueuer.runOnce() == 2)
            // Paused: nothing; resumed: the next run is the first after now, none made up.
            #expect(try await store.setPaused(id: "skip", true))
            clock.advance(1800)
            #expect(try await enqueuer.runOnce() == 1)
            #expect(try await store.setPaused(id: "skip", false, now: clock.current))
            #expect(try await enqueuer.runOnce() == 0)
            clock.advance(600)
            #expect(try await enqueuer.runOnce() == 2)
            // Run now: a job apart from the schedule, which stays where it was.
            let before = try await store.job(id: "skip")?.nextRunAt
            let manual = try #require(try await store.runNow(id: "skip", now: clock.current))
            let after = try await store.job(id: "skip")?.nextRunAt
            #expect(manual.inserted && after == before)
            #expect(try await store.runNow(id: "none") == nil)
            #expect(try await store.setPaused(id: "none", true) == false)
            // A changed schedule moves its next run; an unchanged one keeps it.
            try await store.upsert(PeriodicJob(id: "skip", kind: "noop", args: #"{"v": 2}"#, schedule: .every(.seconds(600)), catchUp: false),
                                   now: clock.current.addingTimeInterval(99))
            #expect(try await store.job(id: "skip")?.nextRunAt == before)
            try await store.upsert(PeriodicJob(id: "skip", kind: "noop", schedule: .cron(try CronSchedule("@daily")), catchUp: false), now: clock.current)
            #expect(try await store.job(id: "skip")?.nextRunAt == (try Date("2026-12-06T00:00:00Z", strategy: .iso8601)))
            #expect(try await store.remove(id: "skip"))
            #expect(try await store.list().map(\.id) == ["catch-up"])
            // An owner's schedules go with them.
            try await store.upsert(PeriodicJob(id: "mine", kind: "noop", owner: "usr_gone", schedule: .every(.seconds(60))))
            try await store.removeAll(ownedBy: "usr_gone")
            #expect(try await store.list().map(\.id) == ["catch-up"])
            // A schedule this process cannot read is paused, and the others go on.
            try await db.client.query("""
                INSERT INTO periodic_jobs (id, kind, cron, time_zone, next_run_at)
                VALUES ('unreadable', 'noop', '0 * * * *', 'Mars/Olympus', \(clock.current.addingTimeInterval(-3600)))
                """, logger: db.logger)
            clock.advance(600)
            #expect(try await enqueuer.runOnce() == 1)
            #expect(try await db.scalar("SELECT count(*) FROM periodic_jobs WHERE id = 'unreadable' AND paused") == 1)
            // Bad schedules are refused before they are stored.
            await #expect(throws: QueueError.self) {
                try await store.upsert(PeriodicJob(id: "never", kind: "noop", schedule: .cron(try CronSchedule("0 0 31 2 *"))))
            }
            await #expect(throws: QueueError.self) {
                try await store.upsert(PeriodicJob(id: "bad", kind: "noop", queue: "no spaces allowed", schedule: .every(.seconds(60))))
            }
        }
    }
}
