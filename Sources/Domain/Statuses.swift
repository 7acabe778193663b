/// The statuses and kinds the domain's tables store as text, one enum each, with raw values
/// exactly the values of the table's CHECK constraint. Read them with `DatabaseValue.decode`:
/// a value this build does not know is an error naming the column, never another state.

/// `channels.status`.
public enum ChannelStatus: String, Sendable, CaseIterable, Codable {
    case active, suspended
}

/// `video_stages.status`.
public enum StageStatus: String, Sendable, CaseIterable, Codable {
    case pending, running, completed, failed, cancelled
}

/// `artifacts.kind`: what a stage stored.
public enum ArtifactKind: String, Sendable, CaseIterable, Codable {
    case script, audio, thumbnail, video
}

/// `youtube_accounts.status`, plus `coolingDown`: an active account resting after a failure
/// (derived from `cooldown_until`, never stored).
public enum YouTubeAccountStatus: String, Sendable, CaseIterable, Codable {
    case active
    case authExpired = "auth_expired"
    case coolingDown = "cooling_down"
}

/// `publications.status`.
public enum PublicationState: String, Sendable, CaseIterable, Codable {
    case queued
    case waitingQuota = "waiting_quota"
    case uploading, published, failed
}

/// `webhook_endpoints.status`.
public enum WebhookEndpointStatus: String, Sendable, CaseIterable, Codable {
    case active, disabled
}
