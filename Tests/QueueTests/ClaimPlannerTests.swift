import Queue
import Testing

/// The producer's decisions, without a database or a clock.
@Suite struct ClaimPlannerTests {
    @Test func claimsEveryFreeSlotAndStopsWhenFullOrStopping() {
        var planner = ClaimPlanner(slots: 10)
        #expect(planner.next(running: 0, stopping: false) == .claim(limit: 10))
        #expect(planner.next(running: 10, stopping: false) == .wait)
        #expect(planner.next(running: 12, stopping: false) == .wait, "an over-full queue (a lowered limit) claims nothing")
        #expect(planner.next(running: 3, stopping: true) == .wait)
    }

    @Test func aFullClaimMeansABacklogAndClaimsAgainAtOnce() {
        var planner = ClaimPlanner(slots: 10)
        let full = planner.claimed(10, limit: 10)
        #expect(full)
        #expect(planner.backlog)
        #expect(planner.next(running: 4, stopping: false) == .claim(limit: 6), "half or more free: no wait")
        let short = planner.claimed(2, limit: 6)
        #expect(!short)
        #expect(!planner.backlog, "a short claim drained the queue")
    }

    @Test func withABacklogFewFreeSlotsWaitOnceSoOneClaimFillsSeveral() {
        var planner = ClaimPlanner(slots: 10)
        _ = planner.claimed(10, limit: 10)
        #expect(planner.refillThreshold == 5)
        #expect(planner.next(running: 9, stopping: false) == .coolDown)
        // After the cool-down it claims whatever is free by then, even if still few.
        #expect(planner.next(running: 8, stopping: false) == .claim(limit: 2))
        _ = planner.claimed(2, limit: 2)
        #expect(planner.next(running: 9, stopping: false) == .coolDown, "each claim earns one cool-down")
        // Without a backlog, one free slot is claimed at once.
        var idle = ClaimPlanner(slots: 10)
        #expect(idle.next(running: 9, stopping: false) == .claim(limit: 1))
        // One slot: the threshold is 1, so there is never a cool-down.
        var single = ClaimPlanner(slots: 1)
        _ = single.claimed(1, limit: 1)
        #expect(single.next(running: 0, stopping: false) == .claim(limit: 1))
    }

    @Test func aFailedClaimBacksOffOnceAndForgetsTheBacklog() {
        var planner = ClaimPlanner(slots: 4)
        _ = planner.claimed(4, limit: 4)
        planner.claimFailed()
        #expect(!planner.backlog)
        #expect(planner.next(running: 0, stopping: false) == .backOff)
        #expect(planner.next(running: 0, stopping: false) == .claim(limit: 4))
        planner.claimFailed()
        #expect(planner.next(running: 0, stopping: true) == .wait, "stopping wins over backing off")
    }
}
