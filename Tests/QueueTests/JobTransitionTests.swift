import Foundation
import Queue
import QueueTestSupport
import Testing

/// The job state machine and the backoff math, with a fixed clock and pinned randomness.
@Suite struct JobTransitionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = RetryPolicy(base: 1, maximum: 3600, jitter: 0.1, random: { 0.5 })

    @Test func successCompletes() {
        let t = JobTransition.after(.succeeded, attempt: 1, maxAttempts: 3, now: now, retryPolicy: policy)
        #expect(t == JobTransition(state: .completed, runAt: nil, error: nil, refundsAttempt: false))
    }

    @Test func failureWithAttemptsLeftRetriesAfterBackoff() {
        let t = JobTransition.after(.failed("boom"), attempt: 3, maxAttempts: 5, now: now, retryPolicy: policy)
        #expect(t.state == .retryable)
        #expect(t.runAt == now.addingTimeInterval(4))
        #expect(t.error == JobErrorEntry(attempt: 3, at: now, error: "boom"))
        #expect(!t.refundsAttempt)
    }

    @Test func failureOnTheLastAttemptDiscards() {
        let t = JobTransition.after(.failed("boom"), attempt: 5, maxAttempts: 5, now: now, retryPolicy: policy)
        #expect(t.state == .discarded)
        #expect(t.runAt == nil)
        #expect(t.error?.attempt == 5)
    }

    @Test func snoozeSchedulesAndRefundsTheAttempt() {
        let later = now.addingTimeInterval(60)
        let t = JobTransition.after(.snoozed(until: later), attempt: 1, maxAttempts: 1, now: now, retryPolicy: policy)
        #expect(t == JobTransition(state: .scheduled, runAt: later, error: nil, refundsAttempt: true))
        let immediate = JobTransition.after(.snoozed(until: now), attempt: 1, maxAttempts: 1, now: now, retryPolicy: policy)
        #expect(immediate.state == .available)
    }

    @Test func cancelAndRelease() {
        let cancelled = JobTransition.after(.cancelled("user asked"), attempt: 2, maxAttempts: 5, now: now, retryPolicy: policy)
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.error?.error == "cancelled: user asked")
        let released = JobTransition.after(.released, attempt: 2, maxAttempts: 5, now: now, retryPolicy: policy)
        #expect(released == JobTransition(state: .available, runAt: now, error: nil, refundsAttempt: true))
    }

    @Test func finalAndWaitingStates() {
        #expect(JobState.allCases.filter(\.isFinal) == [.completed, .cancelled, .discarded])
        #expect(JobState.allCases.filter(\.isWaiting) == [.available, .scheduled, .retryable])
    }

    @Test func backoffDoublesUpToTheCap() {
        let exact = RetryPolicy(base: 1, maximum: 100, jitter: 0)
        #expect((1...9).map { exact.delay(afterAttempt: $0) } == [1, 2, 4, 8, 16, 32, 64, 100, 100])
        #expect(exact.delay(afterAttempt: 10_000) == 100)
        #expect(exact.delay(afterAttempt: 0) == 1)
    }

    @Test func jitterSpreadsWithinBounds() {
        let low = RetryPolicy(base: 10, maximum: 1000, jitter: 0.2, random: { 0 })
        let high = RetryPolicy(base: 10, maximum: 1000, jitter: 0.2, random: { 1 })
        #expect(abs(low.delay(afterAttempt: 2) - 16) < 1e-9)
        #expect(abs(high.delay(afterAttempt: 2) - 24) < 1e-9)
        let random = RetryPolicy(base: 10, maximum: 1000, jitter: 0.2)
        for _ in 0..<100 { #expect((16...24).contains(random.delay(afterAttempt: 2))) }
    }
}

/// A stored value this build does not know is an error naming it, never another state.
@Suite struct DatabaseValueTests {
    @Test func anUnknownValueIsAnErrorNamingTheColumnAndTheValue() throws {
        #expect(try DatabaseValue.decode("running", column: "jobs.state", as: JobState.self) == .running)
        do {
            _ = try DatabaseValue.decode("paused-by-a-newer-build", column: "jobs.state", as: JobState.self)
            Issue.record("an unknown state was read as a known one")
        } catch let error as QueueError {
            #expect(error.code == .unknownValue)
            #expect(error.message.contains("jobs.state") && error.message.contains("paused-by-a-newer-build"))
        }
    }

    /// A job row whose state was changed behind the build's back is refused when read.
    @Test func aJobInAStateThisBuildDoesNotKnowIsNotReadAsDiscarded() async throws {
        try await withQueueDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            let job = try await store.insert(NewJob(kind: "noop"))
            try await db.client.query("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check", logger: db.logger)
            try await db.client.query("UPDATE jobs SET state = 'hibernating' WHERE id = \(job.id)", logger: db.logger)
            await #expect(throws: QueueError.self) { _ = try await store.job(id: job.id) }
        }
    }
}
