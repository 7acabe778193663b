import Queue

/// The domain's advisory-lock spaces (the queue's are in `AdvisoryLock`); each number is
/// used once.
extension AdvisoryLock {
    /// A batch's videos finishing together check its completion one at a time.
    static let batchCompletion = AdvisoryLock(space: 7)
    /// One waiting sync per channel.
    static let channelSync = AdvisoryLock(space: 11)
    /// One `quota.exhausted` event per user and Pacific day.
    static let quotaExhaustedNotice = AdvisoryLock(space: 13)
}
