@testable import Queue
import QueueTestSupport
import Testing

/// The in-process registry of running jobs and their stop signals.
@Suite struct RunningJobsTests {
    @Test func firstStopReasonWins() async {
        let running = RunningJobs()
        let stream = running.add(1, queue: "q")
        running.stop(1, reason: .cancelRequested)
        running.stop(1, reason: .released)
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .cancelRequested)
        #expect(running.remove(1) == .cancelRequested)
        #expect(running.count == 0)
    }

    @Test func aCancelThatOvertakesTheClaimIsDeliveredOnArrival() async {
        let running = RunningJobs()
        running.stop(7, reason: .cancelRequested)
        running.stop(8, reason: .leaseLost)
        let cancelled = running.add(7, queue: "q")
        var iterator = cancelled.makeAsyncIterator()
        #expect(await iterator.next() == .cancelRequested)
        _ = running.add(8, queue: "q")
        #expect(running.remove(8) == nil, "only cancel requests are remembered early")
    }

    @Test func earlyRequestsAreBounded() async {
        let running = RunningJobs()
        for id in 0..<5000 { running.stop(Int64(id), reason: .cancelRequested) }
        _ = running.add(0, queue: "q")
        #expect(running.remove(0) == nil, "the oldest early request was forgotten")
        _ = running.add(4999, queue: "q")
        #expect(running.remove(4999) == .cancelRequested)
    }

    @Test func countsAndStopsPerQueue() {
        let running = RunningJobs()
        _ = running.add(1, queue: "a")
        _ = running.add(2, queue: "a")
        _ = running.add(3, queue: "b")
        #expect(running.count(in: "a") == 2)
        running.stopAll(in: "a", reason: .released)
        #expect(running.remove(1) == .released)
        #expect(running.remove(3) == nil)
    }
}
