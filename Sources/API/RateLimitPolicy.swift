/// The spec's rate limits by endpoint category. Every default is the spec's.
public struct RateLimitPolicy: Sendable {
    public struct Limit: Sendable, Equatable {
        public var requests: Int
        public var window: Duration

        public init(requests: Int, window: Duration) {
            self.requests = requests
            self.window = window
        }
    }

    /// Authentication: 10 per minute (per client address, as callers are not signed in yet).
    public var authentication = Limit(requests: 10, window: .seconds(60))
    /// Video generation: 100 per hour.
    public var videoGeneration = Limit(requests: 100, window: .seconds(3600))
    /// Analytics: 500 per hour.
    public var analytics = Limit(requests: 500, window: .seconds(3600))
    /// Everything else: 1000 per hour.
    public var general = Limit(requests: 1000, window: .seconds(3600))
    /// The operator console's API: 3000 per hour (a console polls and acts in bursts).
    public var admin = Limit(requests: 3000, window: .seconds(3600))
    /// Failed logins per email, whatever address they come from (so a botnet cannot guess one
    /// account's password): 10 per 15 minutes, then 429 until the window ends.
    public var failedLoginsPerEmail = Limit(requests: 10, window: .seconds(900))

    public init() {}

    /// The category of an operation, by its tag in the contract; nil for operations that are
    /// not limited (System: health checks must always answer; Stripe: the provider's own
    /// webhooks, which are signed and must never be turned away by users' limits).
    func category(forTag tag: String?) -> (name: String, limit: Limit)? {
        switch tag {
        case "System", "Stripe": nil
        case "Authentication": ("authentication", authentication)
        case "Generation": ("video_generation", videoGeneration)
        case "Analytics": ("analytics", analytics)
        case "Admin": ("admin", admin)
        default: ("general", general)
        }
    }

    /// The category a WebSocket connection counts in: the analytics stream as Analytics, the
    /// console's as Admin, the others as General.
    func category(forLive scope: LiveSubscription.Scope) -> (name: String, limit: Limit) {
        switch scope {
        case .analytics: ("analytics", analytics)
        case .fleet: ("admin", admin)
        case .account, .channel: ("general", general)
        }
    }
}
