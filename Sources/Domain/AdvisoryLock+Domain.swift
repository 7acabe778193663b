import Queue

/// The domain's advisory-lock spaces (the queue's are in `AdvisoryLock`); each number is
/// used once.
extension AdvisoryLock {
    /// A batch's videos finishing together check its completion one at a time.
    static let batchCompletion = AdvisoryLock(space: 7)
    // Space 11 (one waiting sync per channel) is retired: the sync job's unique key does it.
    /// One `quota.exhausted` event per user and Pacific day.
    static let quotaExhaustedNotice = AdvisoryLock(space: 13)
    /// One billing change of a user at a time (`Payments`).
    static let billing = AdvisoryLock(space: 17)
    /// One new version of a model at a time (its number is the last one's plus one).
    public static let modelVersions = AdvisoryLock(space: 19)
}
