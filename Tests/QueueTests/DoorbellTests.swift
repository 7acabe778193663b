import Queue
import Testing

/// The doorbell that wakes the leader's chores early.
@Suite struct DoorbellTests {
    @Test func aRingBeforeTheWaitEndsItAtOnceAndCountsOnce() async {
        let bell = Doorbell()
        bell.ring()
        bell.ring()
        let clock = ContinuousClock()
        let first = await clock.measure { await bell.wait(timeout: .seconds(60)) }
        #expect(first < .seconds(30))
        // The two rings counted as one: the next wait runs to its timeout.
        let second = await clock.measure { await bell.wait(timeout: .milliseconds(50)) }
        #expect(second >= .milliseconds(50))
    }

    @Test func aRingDuringTheWaitEndsItAndATimeoutLeavesNoRingBehind() async {
        let bell = Doorbell()
        await bell.wait(timeout: .milliseconds(10))
        let clock = ContinuousClock()
        let waited = await clock.measure {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await bell.wait(timeout: .seconds(60)) }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(20))
                    bell.ring()
                }
            }
        }
        #expect(waited < .seconds(30))
    }

    @Test func cancellingTheWaiterEndsTheWait() async {
        let bell = Doorbell()
        let waiter = Task { await bell.wait(timeout: .seconds(60)) }
        waiter.cancel()
        let clock = ContinuousClock()
        let waited = await clock.measure { await waiter.value }
        #expect(waited < .seconds(30))
    }
}
