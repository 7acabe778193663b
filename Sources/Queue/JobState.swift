/// Where a job is in its life. Stored as text in `jobs.state`.
///
/// ```
/// available ──claim──> running ──ok──> completed
///     ^                  │ ├──error, attempts left──> retryable ──promote──> available
///     │                  │ ├──error, none left─────> discarded
///     │                  │ ├──snooze───────────────> scheduled ──promote──> available
///     └──release─────────┘ └──cancel───────────────> cancelled
/// ```
public enum JobState: String, Sendable, CaseIterable, Codable {
    case available, scheduled, running, retryable, completed, cancelled, discarded

    /// Completed, cancelled and discarded jobs never run again (unless an operator retries them).
    public var isFinal: Bool {
        switch self {
        case .completed, .cancelled, .discarded: true
        case .available, .scheduled, .running, .retryable: false
        }
    }

    /// States a job waits in before it runs.
    public var isWaiting: Bool {
        switch self {
        case .available, .scheduled, .retryable: true
        case .running, .completed, .cancelled, .discarded: false
        }
    }

    /// The state's bit in a `unique_states` mask (`queue_state_bit` in the migration).
    var bit: Int16 {
        switch self {
        case .available: 1
        case .scheduled: 2
        case .running: 4
        case .retryable: 8
        case .completed: 16
        case .cancelled: 32
        case .discarded: 64
        }
    }

    /// A set of states as a `unique_states` mask.
    static func bitmask(_ states: Set<JobState>) -> Int16 { states.reduce(0) { $0 | $1.bit } }
}
