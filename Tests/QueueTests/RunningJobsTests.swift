@testable import Queue
import QueueTestSupport
import Testing

/// The in-process registry of running jobs and their stop signals.
@Suite struct RunningJobsTests {
    private func lease(_ id: Int64, attempt: Int = 1) -> JobLease { JobLease(jobID: id, attempt: attempt, workerID: "w") }

    @Test func firstStopReasonWins() async {
        let running = RunningJobs()
        let stream = running.add(lease(1), queue: "q")
        running.stop(jobID: 1, reason: .cancelRequested)
        running.stop(lease(1), reason: .released)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .cancelRequested)
        #expect(running.remove(lease(1)) == .cancelRequested)
        #expect(running.count == 0)
    }

    @Test func aCancelThatOvertakesTheClaimIsDeliveredOnArrival() async {
        let running = RunningJobs()
        running.stop(jobID: 7, reason: .cancelRequested)
        running.stop(jobID: 8, reason: .leaseLost)
        let cancelled = running.add(lease(7), queue: "q")
        var iterator = cancelled.makeAsyncIterator()
        #expect(await iterator.next() == .cancelRequested)
        _ = running.add(lease(8), queue: "q")
        #expect(running.remove(lease(8)) == nil, "only cancel requests are remembered early")
    }

    @Test func earlyRequestsAreBounded() async {
        let running = RunningJobs()
        for id in 0..<5000 { running.stop(jobID: Int64(id), reason: .cancelRequested) }
        _ = running.add(lease(0), queue: "q")
        #expect(running.remove(lease(0)) == nil, "the oldest early request was forgotten")
        _ = running.add(lease(4999), queue: "q")
        #expect(running.remove(lease(4999)) == .cancelRequested)
    }

    @Test func countsAndStopsPerQueue() {
        let running = RunningJobs()
        _ = running.add(lease(1), queue: "a")
        _ = running.add(lease(2), queue: "a")
        _ = running.add(lease(3), queue: "b")
        #expect(running.count(in: "a") == 2)
        running.stopAll(in: "a", reason: .released)
        #expect(running.remove(lease(1)) == .released)
        #expect(running.remove(lease(3)) == nil)
    }

    /// A stale attempt still winding down and the same job's next attempt on this worker are
    /// two entries: the stale one's leaving does not take the new one with it.
    @Test func aStaleAttemptAndTheNextAttemptOfTheSameJobAreSeparate() {
        let running = RunningJobs()
        _ = running.add(lease(5, attempt: 1), queue: "q")
        running.stop(lease(5, attempt: 1), reason: .leaseLost)
        _ = running.add(lease(5, attempt: 2), queue: "q")
        #expect(running.remove(lease(5, attempt: 1)) == .leaseLost)
        #expect(running.count(in: "q") == 1)
        #expect(running.leases == [lease(5, attempt: 2)])
        running.stop(jobID: 5, reason: .cancelRequested)
        #expect(running.remove(lease(5, attempt: 2)) == .cancelRequested)
    }
}
