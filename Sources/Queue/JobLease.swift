/// One claim of a job: the attempt a worker holds.
///
/// Every guarded write (complete, finish, extend) names the whole lease, not just the worker:
/// a worker whose lease ran out while its handler was still busy can be handed the same job
/// again as a new attempt, and the stale attempt must then find that it no longer owns the row.
public struct JobLease: Sendable, Hashable, CustomStringConvertible {
    public var jobID: Int64
    /// The attempt number the claim gave the job.
    public var attempt: Int
    public var workerID: String

    public init(jobID: Int64, attempt: Int, workerID: String) {
        self.jobID = jobID
        self.attempt = attempt
        self.workerID = workerID
    }

    public var description: String { "job \(jobID) attempt \(attempt) on \(workerID)" }
}

extension Job {
    /// The lease this claimed job is held under by `workerID`.
    public func lease(workerID: String) -> JobLease { JobLease(jobID: id, attempt: attempt, workerID: workerID) }
}
