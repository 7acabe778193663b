/// The pure decisions of one queue's producer: whether to claim, how many, whether to wait a
/// moment first so a claim fills several freed slots, and when to stop until the next wake-up.
///
/// The producer feeds it what it sees (free slots, shutdown, a claim's result) and does what it
/// says; no I/O or clock here, so every decision is unit-tested, like `JobTransition`.
public struct ClaimPlanner: Sendable, Equatable {
    /// What the producer does next.
    public enum Step: Sendable, Equatable {
        /// Claim up to this many jobs.
        case claim(limit: Int)
        /// Wait `fetchCooldown` for more slots to free, then ask again.
        case coolDown
        /// Back off after a failed claim, then wait for the next wake-up.
        case backOff
        /// Nothing to do until the next wake-up (all slots busy, the queue drained, or stopping).
        case wait
    }

    /// The queue's slots in this worker.
    public let slots: Int
    /// Whether the last claim came back full: the queue likely has more jobs waiting.
    public private(set) var backlog = false
    /// Whether the planner has already cooled down once for the current claim.
    private var cooled = false
    /// Whether the last claim failed (the producer backs off once, then waits).
    private var failed = false

    public init(slots: Int) { self.slots = slots }

    /// Below this many free slots, with a backlog, a claim waits `fetchCooldown` first.
    public var refillThreshold: Int { max(1, slots / 2) }

    /// The next step, given the slots the queue's running jobs leave free.
    public mutating func next(running: Int, stopping: Bool) -> Step {
        if stopping { return .wait }
        if failed {
            failed = false
            return .backOff
        }
        let free = slots - running
        guard free > 0 else { return .wait }
        if backlog, free < refillThreshold, !cooled {
            cooled = true
            return .coolDown
        }
        return .claim(limit: free)
    }

    /// Records a claim's result. - Returns: whether to claim again at once (it came back full).
    public mutating func claimed(_ count: Int, limit: Int) -> Bool {
        cooled = false
        backlog = count >= limit
        return backlog
    }

    /// Records a failed claim: the next step backs off, and the backlog is unknown.
    public mutating func claimFailed() {
        cooled = false
        failed = true
        backlog = false
    }
}
