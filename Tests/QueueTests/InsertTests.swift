import Foundation
import Queue
import TestSupport
import Testing

@Suite struct InsertTests {
    @Test func insertsOneAndManyInOrder() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let one = try await store.insert(NewJob(kind: "noop", args: #"{"n": 1}"#))
            #expect(one.inserted)
            let many = try await store.insert((0..<10_000).map { NewJob(kind: "noop", args: "{\"n\": \($0)}", queue: "bulk") })
            #expect(many.count == 10_000)
            #expect(many.allSatisfy { $0.inserted })
            #expect(Set(many.map(\.id)).count == 10_000)
            // Results come back in input order: the 5000th result's args say n = 4999.
            let job = try #require(try await store.job(id: many[4999].id))
            #expect(job.args.contains("4999"))
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE queue = 'bulk' AND state = 'available'") == 10_000)
        }
    }

    @Test func insertJoinsTheCallersTransaction() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            struct Boom: Error {}
            await #expect(throws: (any Error).self) {
                try await db.client.withTransaction(logger: db.logger) { tx in
                    try await tx.query("CREATE TABLE IF NOT EXISTS domain_rows (id int)", logger: db.logger)
                    try await store.insert(NewJob(kind: "noop", queue: "tx"), on: tx)
                    throw Boom()
                }
            }
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE queue = 'tx'") == 0)
            _ = try await db.client.withTransaction(logger: db.logger) { tx in
                try await store.insert(NewJob(kind: "noop", queue: "tx"), on: tx)
            }
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE queue = 'tx'") == 1)
        }
    }

    @Test func uniqueKeysReturnTheExistingJob() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let first = try await store.insert(NewJob(kind: "noop", uniqueKey: "video-1"))
            let second = try await store.insert(NewJob(kind: "noop", uniqueKey: "video-1"))
            #expect(first.inserted)
            #expect(!second.inserted)
            #expect(second.id == first.id)
            // In bulk, against existing rows and within the same call.
            let bulk = try await store.insert([
                NewJob(kind: "noop", uniqueKey: "video-1"),
                NewJob(kind: "noop", uniqueKey: "video-2"),
                NewJob(kind: "noop", uniqueKey: "video-2"),
                NewJob(kind: "noop"),
            ])
            #expect(bulk[0] == InsertedJob(id: first.id, inserted: false))
            #expect(bulk[1].inserted)
            #expect(bulk[2] == InsertedJob(id: bulk[1].id, inserted: false))
            #expect(bulk[3].inserted)
            #expect(try await db.scalar("SELECT count(*) FROM jobs") == 3)
        }
    }

    @Test func concurrentInsertsOfOneKeyMakeOneJob() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<16 { group.addTask { try await store.insert(NewJob(kind: "noop", uniqueKey: "race")).id } }
                return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
            #expect(try await db.scalar("SELECT count(*) FROM jobs") == 1)
        }
    }

    @Test func rejectsBadJobsWithClearErrors() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "")) }
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "noop", args: "[1,2]")) }
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "noop", args: "{oops")) }
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "noop", queue: "bad queue!")) }
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "noop", maxAttempts: 0)) }
            let count = try await db.scalar("SELECT count(*) FROM jobs")
            #expect(count == 0)
        }
    }

    @Test func futureJobsAreScheduled() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let later = try await store.insert(NewJob(kind: "noop", runAt: Date().addingTimeInterval(3600)))
            let now = try await store.insert(NewJob(kind: "noop"))
            #expect(try await store.job(id: later.id)?.state == .scheduled)
            #expect(try await store.job(id: now.id)?.state == .available)
        }
    }
}
