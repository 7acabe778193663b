import Foundation

/// The pure rules for what happens to a running job when its attempt ends.
///
/// The worker feeds it the way the attempt ended and gets back the row change to write; no
/// I/O happens here, so every transition is unit-tested with a fixed clock.
public struct JobTransition: Sendable, Equatable {
    /// How an attempt ended, as seen by the worker.
    public enum Ending: Sendable, Equatable {
        /// The handler returned normally.
        case succeeded
        /// The handler threw (or timed out) with this message.
        case failed(String)
        /// The handler asked to run again at a later time without spending an attempt.
        case snoozed(until: Date)
        /// The handler cancelled itself, or an operator's cancel request stopped it.
        case cancelled(String)
        /// The worker is shutting down and gives the job back unspent.
        case released
    }

    /// The state the row moves to.
    public var state: JobState
    /// When the job may run again (for `retryable`, `scheduled` and `available`).
    public var runAt: Date?
    /// An entry to append to the job's `errors` list.
    public var error: JobErrorEntry?
    /// Whether the attempt is given back (snooze, release): as River does, the job's allowance
    /// (`max_attempts`) grows by one rather than its counter going down, so every claim keeps a
    /// number of its own — the leases and the ledger's `(job_id, attempt)` rows rely on it.
    public var refundsAttempt: Bool

    public init(state: JobState, runAt: Date?, error: JobErrorEntry?, refundsAttempt: Bool) {
        self.state = state
        self.runAt = runAt
        self.error = error
        self.refundsAttempt = refundsAttempt
    }

    /// Decides the next state of a running job.
    /// - Parameters:
    ///   - ending: how the attempt ended.
    ///   - attempt: the attempt that just ran (1 for the first run).
    ///   - maxAttempts: the job's limit; reaching it on a failure discards the job.
    ///   - now: the current time, injected for tests.
    ///   - retryPolicy: computes the delay before the next attempt.
    public static func after(
        _ ending: Ending, attempt: Int, maxAttempts: Int, now: Date, retryPolicy: RetryPolicy
    ) -> JobTransition {
        switch ending {
        case .succeeded:
            return JobTransition(state: .completed, runAt: nil, error: nil, refundsAttempt: false)
        case .failed(let message):
            let entry = JobErrorEntry(attempt: attempt, at: now, error: message)
            if attempt >= maxAttempts {
                return JobTransition(state: .discarded, runAt: nil, error: entry, refundsAttempt: false)
            }
            let delay = retryPolicy.delay(afterAttempt: attempt)
            return JobTransition(state: .retryable, runAt: now.addingTimeInterval(delay), error: entry, refundsAttempt: false)
        case .snoozed(let until):
            return JobTransition(state: until <= now ? .available : .scheduled, runAt: until, error: nil, refundsAttempt: true)
        case .cancelled(let reason):
            let entry = JobErrorEntry(attempt: attempt, at: now, error: "cancelled: \(reason)")
            return JobTransition(state: .cancelled, runAt: nil, error: entry, refundsAttempt: false)
        case .released:
            return JobTransition(state: .available, runAt: now, error: nil, refundsAttempt: true)
        }
    }
}

/// One recorded failure of a job: `{attempt, at, error}` in `jobs.errors`.
public struct JobErrorEntry: Sendable, Equatable, Codable {
    public var attempt: Int
    public var at: Date
    public var error: String

    public init(attempt: Int, at: Date, error: String) {
        self.attempt = attempt
        self.at = at
        self.error = error
    }
}
