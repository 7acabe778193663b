@testable import Queue
import QueueTestSupport
import Testing

/// The in-process registry of running jobs and their stop signals.
@Suite struct RunningJobsTests {
    private func lease(_ id: Int64, attempt: Int = 1) -> JobLease { JobLease(jobID: id, attempt: attempt, workerID: "w") }
    private let held = ContinuousClock.now + .seconds(30)

    @Test func firstStopReasonWins() async {
        let running = RunningJobs()
        let stream = running.add(lease(1), queue: "q", heldUntil: held)
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
        let cancelled = running.add(lease(7), queue: "q", heldUntil: held)
        var iterator = cancelled.makeAsyncIterator()
        #expect(await iterator.next() == .cancelRequested)
        _ = running.add(lease(8), queue: "q", heldUntil: held)
        #expect(running.remove(lease(8)) == nil, "only cancel requests are remembered early")
    }

    @Test func earlyRequestsAreBounded() async {
        let running = RunningJobs()
        for id in 0..<5000 { running.stop(jobID: Int64(id), reason: .cancelRequested) }
        _ = running.add(lease(0), queue: "q", heldUntil: held)
        #expect(running.remove(lease(0)) == nil, "the oldest early request was forgotten")
        _ = running.add(lease(4999), queue: "q", heldUntil: held)
        #expect(running.remove(lease(4999)) == .cancelRequested)
    }

    @Test func countsAndStopsPerQueue() {
        let running = RunningJobs()
        _ = running.add(lease(1), queue: "a", heldUntil: held)
        _ = running.add(lease(2), queue: "a", heldUntil: held)
        _ = running.add(lease(3), queue: "b", heldUntil: held)
        #expect(running.count(in: "a") == 2)
        running.stopAll(in: "a", reason: .released)
        #expect(running.remove(lease(1)) == .released)
        #expect(running.remove(lease(3)) == nil)
    }

    /// A stale attempt still winding down and the same job's next attempt on this worker are
    /// two entries: the stale one's leaving does not take the new one with it.
    @Test func aStaleAttemptAndTheNextAttemptOfTheSameJobAreSeparate() {
        let running = RunningJobs()
        _ = running.add(lease(5, attempt: 1), queue: "q", heldUntil: held)
        running.stop(lease(5, attempt: 1), reason: .leaseLost)
        _ = running.add(lease(5, attempt: 2), queue: "q", heldUntil: held)
        #expect(running.remove(lease(5, attempt: 1)) == .leaseLost)
        #expect(running.count(in: "q") == 1)
        #expect(running.leases == [lease(5, attempt: 2)])
        running.stop(jobID: 5, reason: .cancelRequested)
        #expect(running.remove(lease(5, attempt: 2)) == .cancelRequested)
    }

    /// A lease a heartbeat renewed is not expiring; one left alone is, once, until it is stopped.
    @Test func leasesNotRenewedInTimeAreExpiring() {
        let running = RunningJobs()
        let start = ContinuousClock.now
        _ = running.add(lease(1), queue: "q", heldUntil: start + .seconds(10))
        _ = running.add(lease(2), queue: "q", heldUntil: start + .seconds(10))
        running.renew([lease(2), lease(9)], until: start + .seconds(20))
        #expect(running.expiring(before: start + .seconds(5)).isEmpty)
        #expect(running.expiring(before: start + .seconds(15)) == [lease(1)])
        running.stop(lease(1), reason: .leaseExpiring)
        #expect(running.expiring(before: start + .seconds(15)).isEmpty, "a stopping attempt is not stopped again")
        #expect(running.expiring(before: start + .seconds(25)) == [lease(2)])
        #expect(running.count == 2, "renewing an unknown lease adds nothing")
    }

    /// A stopped attempt whose handler does not return is reported once, a lease after the stop;
    /// one whose handler returned is not.
    @Test func aStoppedHandlerThatDoesNotReturnIsReportedOnce() {
        let running = RunningJobs()
        _ = running.add(lease(1), queue: "q", heldUntil: held)
        _ = running.add(lease(2), queue: "r", heldUntil: held)
        _ = running.add(lease(3), queue: "q", heldUntil: held)
        #expect(running.stop(lease(1), reason: .leaseExpiring))
        #expect(!running.stop(lease(1), reason: .leaseLost), "already stopping: not stopped (nor logged) twice")
        #expect(running.stop(lease(2), reason: .leaseLost))
        running.remove(lease(2))
        #expect(!running.stop(lease(2), reason: .leaseLost), "gone")
        #expect(running.overdue(after: .seconds(10)).isEmpty, "not yet a lease")
        let later = ContinuousClock.now + .seconds(11)
        #expect(running.overdue(after: .seconds(10), now: later).map(\.lease) == [lease(1)], "the unstopped and the returned are not")
        #expect(running.overdue(after: .seconds(10), now: later).isEmpty, "reported once")
        #expect(running.queue(of: lease(1)) == "q" && running.queue(of: lease(2)) == nil)
    }
}
