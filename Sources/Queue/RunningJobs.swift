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
}

/// The jobs this worker process is running, with a way to stop each one.
///
/// Stopping delivers a reason on the job's own stream; the job's runner cancels the handler's
/// task when it sees it. The first reason wins.
final class RunningJobs: Sendable {
    private struct Entry {
        var queue: String
        var stop: AsyncStream<StopReason>.Continuation
        var stopped: StopReason?
    }

    private let entries = Mutex<[Int64: Entry]>([:])

    /// Registers a job and returns the stream its runner watches.
    func add(_ id: Int64, queue: String) -> AsyncStream<StopReason> {
        let (stream, continuation) = AsyncStream.makeStream(of: StopReason.self, bufferingPolicy: .bufferingOldest(1))
        entries.withLock { $0[id] = Entry(queue: queue, stop: continuation, stopped: nil) }
        return stream
    }

    /// Forgets a job and returns the reason it was stopped for, if any.
    @discardableResult
    func remove(_ id: Int64) -> StopReason? {
        let entry = entries.withLock { $0.removeValue(forKey: id) }
        entry?.stop.finish()
        return entry?.stopped
    }

    /// Asks a running job to stop; ignored when the job is not here or already stopping.
    func stop(_ id: Int64, reason: StopReason) {
        let continuation: AsyncStream<StopReason>.Continuation? = entries.withLock { entries in
            guard var entry = entries[id], entry.stopped == nil else { return nil }
            entry.stopped = reason
            entries[id] = entry
            return entry.stop
        }
        continuation?.yield(reason)
    }

    /// Stops every running job for the same reason.
    func stopAll(reason: StopReason) {
        for id in ids { stop(id, reason: reason) }
    }

    var ids: [Int64] { entries.withLock { Array($0.keys) } }

    var count: Int { entries.withLock { $0.count } }

    func count(in queue: String) -> Int {
        entries.withLock { $0.values.reduce(0) { $0 + ($1.queue == queue ? 1 : 0) } }
    }
}
