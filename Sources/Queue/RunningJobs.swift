import Synchronization

/// Why a worker stops a running job's handler before it returns.
enum StopReason: Sendable, Equatable {
    /// An operator (or the domain) cancelled the job.
    case cancelRequested
    /// The attempt ran past its kind's timeout.
    case timedOut(Duration)
    /// The worker is shutting down and the grace period is over.
    case released
    /// The heartbeat found the job no longer held by this worker (rescued elsewhere).
    case leaseLost
    /// The lease is about to run out and no heartbeat could extend it (the database is
    /// unreachable, the host cut off or paused): another worker may soon take the job, so
    /// this one stops first.
    case leaseExpiring
}

/// The jobs this worker process is running, with a way to stop each one.
///
/// Entries are keyed by lease, not job id: an attempt whose lease was lost may still be
/// winding down when this worker claims the same job again, and the two must not share an
/// entry. Stopping delivers a reason on the attempt's own stream; its runner cancels the
/// handler's task when it sees it. The first reason wins.
final class RunningJobs: Sendable {
    private struct Entry {
        var queue: String
        var stop: AsyncStream<StopReason>.Continuation
        var stopped: StopReason?
        /// When it was asked to stop, and whether its handler was reported as not returning since.
        var stoppedAt: ContinuousClock.Instant?
        var reportedOverdue = false
        /// Until when the job is surely this worker's: when the claim or the last successful
        /// extension was sent, plus the lease (the database set a later expiry than that).
        var heldUntil: ContinuousClock.Instant
    }

    private struct State {
        var entries: [JobLease: Entry] = [:]
        /// Cancel requests for jobs not (yet) registered: a request can overtake the claim's
        /// result on its way to this process. Bounded; oldest forgotten first.
        var early: [Int64: StopReason] = [:]
        var earlyOrder: [Int64] = []
        /// Waiters for a queue to have no running job, by a token so a cancelled one can leave.
        var drainWaiters: [Int: (queue: String, continuation: CheckedContinuation<Void, Never>)] = [:]
        var nextWaiter = 0
    }

    private static let earlyLimit = 1024
    private let state = Mutex(State())

    /// Registers a job held until `heldUntil` and returns the stream its runner watches; a
    /// stop requested before the job got here is delivered at once.
    func add(_ lease: JobLease, queue: String, heldUntil: ContinuousClock.Instant) -> AsyncStream<StopReason> {
        let (stream, continuation) = AsyncStream.makeStream(of: StopReason.self, bufferingPolicy: .bufferingOldest(1))
        let early = state.withLock { state in
            let early = state.early.removeValue(forKey: lease.jobID)
            state.entries[lease] = Entry(queue: queue, stop: continuation, stopped: early, heldUntil: heldUntil)
            return early
        }
        if let early { continuation.yield(early) }
        return stream
    }

    /// Forgets a job and returns the reason it was stopped for, if any.
    @discardableResult
    func remove(_ lease: JobLease) -> StopReason? {
        let (entry, drained) = state.withLock { state -> (Entry?, [CheckedContinuation<Void, Never>]) in
            guard let entry = state.entries.removeValue(forKey: lease) else { return (nil, []) }
            guard !state.entries.values.contains(where: { $0.queue == entry.queue }) else { return (entry, []) }
            let waiting = state.drainWaiters.filter { $0.value.queue == entry.queue }
            for token in waiting.keys { state.drainWaiters.removeValue(forKey: token) }
            return (entry, waiting.values.map(\.continuation))
        }
        entry?.stop.finish()
        for continuation in drained { continuation.resume() }
        return entry?.stopped
    }

    /// Returns once no job of `queue` is running (at once if none is), or when cancelled.
    func drained(_ queue: String) async {
        let token = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || !state.entries.values.contains(where: { $0.queue == queue }) { return true }
                    state.drainWaiters[token] = (queue, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.drainWaiters.removeValue(forKey: token) }
            waiter?.continuation.resume()
        }
    }

    /// Asks a running attempt to stop; ignored when it is already stopping or gone.
    /// - Returns: whether this call stopped it (false: already stopping, or gone).
    @discardableResult
    func stop(_ lease: JobLease, reason: StopReason) -> Bool {
        let continuation: AsyncStream<StopReason>.Continuation? = state.withLock { state in
            guard var entry = state.entries[lease], entry.stopped == nil else { return nil }
            entry.stopped = reason
            entry.stoppedAt = .now
            state.entries[lease] = entry
            return entry.stop
        }
        continuation?.yield(reason)
        return continuation != nil
    }

    /// Attempts asked to stop more than `after` ago whose handler has still not returned, each
    /// returned once (a handler that ignores cancellation keeps its slot; the guarded
    /// completion refuses whatever it reports).
    func overdue(after: Duration, now: ContinuousClock.Instant = .now) -> [(lease: JobLease, queue: String)] {
        state.withLock { state in
            var found: [(lease: JobLease, queue: String)] = []
            for (lease, entry) in state.entries where !entry.reportedOverdue {
                guard let stoppedAt = entry.stoppedAt, now - stoppedAt > after else { continue }
                state.entries[lease]?.reportedOverdue = true
                found.append((lease, entry.queue))
            }
            return found
        }
    }

    /// The queue a running attempt belongs to.
    func queue(of lease: JobLease) -> String? { state.withLock { $0.entries[lease]?.queue } }

    /// Asks every running attempt of a job to stop (an operator's cancel names the job, not
    /// the attempt). A cancel request for a job not here is remembered in case its claim is
    /// still on the way.
    func stop(jobID: Int64, reason: StopReason) {
        let leases = state.withLock { state -> [JobLease] in
            let leases = state.entries.keys.filter { $0.jobID == jobID }
            if leases.isEmpty, reason == .cancelRequested, state.early[jobID] == nil {
                state.early[jobID] = reason
                state.earlyOrder.append(jobID)
                if state.earlyOrder.count > Self.earlyLimit {
                    state.early.removeValue(forKey: state.earlyOrder.removeFirst())
                }
            }
            return leases
        }
        for lease in leases { stop(lease, reason: reason) }
    }

    /// Stops every running job of a queue for the same reason.
    func stopAll(in queue: String, reason: StopReason) {
        let leases = state.withLock { $0.entries.filter { $0.value.queue == queue }.map(\.key) }
        for lease in leases { stop(lease, reason: reason) }
    }

    var leases: [JobLease] { state.withLock { Array($0.entries.keys) } }

    /// Records that a heartbeat extended `leases` until `instant`.
    func renew(_ leases: some Sequence<JobLease>, until instant: ContinuousClock.Instant) {
        state.withLock { state in
            for lease in leases where state.entries[lease] != nil { state.entries[lease]?.heldUntil = instant }
        }
    }

    /// Attempts not yet asked to stop whose lease runs out before `deadline`.
    func expiring(before deadline: ContinuousClock.Instant) -> [JobLease] {
        state.withLock { state in
            state.entries.filter { $0.value.stopped == nil && $0.value.heldUntil < deadline }.map(\.key)
        }
    }

    var count: Int { state.withLock { $0.entries.count } }

    func count(in queue: String) -> Int {
        state.withLock { $0.entries.values.reduce(0) { $0 + ($1.queue == queue ? 1 : 0) } }
    }
}
