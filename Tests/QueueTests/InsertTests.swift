import Foundation
import Queue
import QueueTestSupport
import Testing

@Suite struct InsertTests {
    @Test func insertsOneAndManyInOrder() async throws {
        try await withQueueDatabase { db in
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
        try await withQueueDatabase { db in
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
        try await withQueueDatabase { db in
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

    @Test func uniqueStatesHoldTheKeyOnlyWhileTheJobIsUnfinished() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let sync = NewJob(kind: "sync", uniqueKey: "sync:1", uniqueStates: NewJob.unfinishedStates)
            let first = try await store.insert(sync)
            #expect(first.inserted)
            // Waiting, and then running: the same key gets the same job.
            #expect(try await store.insert(sync) == InsertedJob(id: first.id, inserted: false))
            let claimed = try await store.claim(queue: "default", workerID: "w", limit: 1, lease: .seconds(30))
            #expect(claimed.map(\.id) == [first.id])
            #expect(try await store.insert(sync) == InsertedJob(id: first.id, inserted: false))
            // Finished: the key is free, and the next insert makes a new job that holds it.
            #expect(try await store.complete(claimed.map { $0.lease(workerID: "w") }).map(\.jobID) == [first.id])
            let second = try await store.insert(sync)
            #expect(second.inserted && second.id != first.id)
            #expect(try await store.insert(sync) == InsertedJob(id: second.id, inserted: false))
            // Cancelled frees it too; a key without states is held for as long as the row is kept.
            _ = try await store.cancel(id: second.id)
            let third = try await store.insert(sync)
            #expect(third.inserted)
            let kept = try await store.insert(NewJob(kind: "once", uniqueKey: "once:1"))
            _ = try await store.cancel(id: kept.id)
            #expect(try await store.insert(NewJob(kind: "once", uniqueKey: "once:1")) == InsertedJob(id: kept.id, inserted: false))
            // The finished job cannot come back while a newer one holds its key.
            await #expect(throws: QueueError.self) { _ = try await store.retry(id: first.id) }
            #expect(try await store.job(id: first.id)?.state == .completed)
            // Unique states must cover every unfinished state, and need a key.
            await #expect(throws: QueueError.self) {
                try await store.insert(NewJob(kind: "sync", uniqueKey: "sync:2", uniqueStates: [.running]))
            }
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "sync", uniqueStates: NewJob.unfinishedStates)) }
        }
    }

    @Test func concurrentInsertsOfAKeyHeldWhileUnfinishedMakeOneJobAtATime() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let sync = NewJob(kind: "sync", uniqueKey: "race", uniqueStates: NewJob.unfinishedStates)
            // Rounds of concurrent inserts, each round's job completed before the next: one job per round.
            for _ in 0..<5 {
                let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                    for _ in 0..<8 { group.addTask { try await store.insert(sync).id } }
                    return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
                }
                #expect(ids.count == 1)
                let claimed = try await store.claim(queue: "default", workerID: "w", limit: 10, lease: .seconds(30))
                #expect(claimed.count == 1)
                _ = try await store.complete(claimed.map { $0.lease(workerID: "w") })
            }
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'completed'") == 5)
        }
    }

    @Test func anOwnersUnfinishedJobsAreFoundByTheOwnerColumn() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let mine = try await store.insert([NewJob(kind: "a", owner: "usr_1"), NewJob(kind: "b", owner: "usr_1"),
                                               NewJob(kind: "c", args: #"{"user_id": "usr_1"}"#), NewJob(kind: "d", owner: "usr_2")])
            _ = try await store.cancel(id: mine[1].id)
            // Only the owner column counts: arguments mean nothing to the queue.
            #expect(try await store.unfinishedJobIDs(ownedBy: "usr_1") == [mine[0].id])
            await #expect(throws: QueueError.self) { try await store.insert(NewJob(kind: "a", owner: "")) }
        }
    }

    @Test func concurrentInsertsOfOneKeyMakeOneJob() async throws {
        try await withQueueDatabase { db in
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
        try await withQueueDatabase { db in
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
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let later = try await store.insert(NewJob(kind: "noop", runAt: Date().addingTimeInterval(3600)))
            let now = try await store.insert(NewJob(kind: "noop"))
            #expect(try await store.job(id: later.id)?.state == .scheduled)
            #expect(try await store.job(id: now.id)?.state == .available)
        }
    }
}
