package import Foundation
import Logging
package import OpenAPIRuntime
import PostgresNIO
import Queue
import Domain
import Models

/// The handlers of every operation in `openapi.yaml` (the generated `APIProtocol`), one
/// extension per spec section. Holds only what handlers share: the database and the clock.
struct APIService: APIProtocol {
    let client: PostgresClient
    let logger: Logger
    let version: String
    let startedAt: ContinuousClock.Instant
    let auth: AuthConfiguration
    let signer: TokenSigner
    let passwords: PasswordHasher
    let limiter: RateLimiter
    let rateLimits: RateLimitPolicy
    let accounts: AccountService
    let users: UserRepository
    let sessions: SessionRepository
    let channels: ChannelRepository
    let videos: VideoRepository
    let submission: VideoSubmission
    let control: VideoControl
    let publications: PublicationStore
    let webhooks: WebhookRepository
    let stats: ChannelStats
    /// Google and YouTube; nil on an instance configured without them.
    let youtube: YouTubeIntegration?
    /// The ML models; nil on an instance configured without them.
    let models: ModelService?
    /// Subscriptions and cards; nil on an instance configured without a payment provider.
    let payments: Payments?
    /// The secrets Stripe's webhooks may be signed with (several while one is rolled).
    let stripeWebhookSecrets: [String]
    /// Where workers store artifacts, for downloads; nil on an instance configured without it.
    let artifacts: (any ArtifactStorage)?
    /// The schema this build expects, read once: health checks compare the database with it.
    let migrations: [Migration]

    var uptimeSeconds: Int { Int((ContinuousClock.now - startedAt).seconds) }
}
