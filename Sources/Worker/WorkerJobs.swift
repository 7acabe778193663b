import Domain
import Foundation
import Logging
import Models
import PostgresNIO
import Queue

/// Every job kind a worker process runs, built in one place: the diagnostic kinds, the
/// pipeline's stages, reports, with YouTube configured publishing and channel syncs, and with
/// payments configured Stripe's events; and the ML models' training.
/// `ytempire worker`, `ytempire up`, the tests' pipeline fleet and the benches all build their
/// registry here, so a kind added once is claimed everywhere. (Webhook deliveries are the
/// dispatcher's: `DispatcherServices` adds them.)
public struct WorkerJobs: Sendable {
    /// What publishing and syncing need: YouTube, its tokens' cipher and quota rules, where
    /// the videos to upload are stored, and the clock quota days are counted by.
    public struct YouTube: Sendable {
        public var integration: YouTubeIntegration
        public var storage: any ArtifactStorage
        public var now: @Sendable () -> Date

        public init(integration: YouTubeIntegration, storage: any ArtifactStorage, now: @escaping @Sendable () -> Date = { Date() }) {
            self.integration = integration
            self.storage = storage
            self.now = now
        }
    }

    public let client: PostgresClient
    public let plan: PipelinePlan
    public let providers: StageProviderSet
    public let youtube: YouTube?
    /// Subscriptions, when a payment provider is configured.
    public let payments: Payments?
    /// How long a report's file is kept.
    public let reportRetention: Duration
    public let logger: Logger

    public init(client: PostgresClient, plan: PipelinePlan, providers: StageProviderSet, youtube: YouTube?, payments: Payments? = nil,
                reportRetention: Duration = .seconds(30 * 86_400), logger: Logger) {
        self.client = client
        self.plan = plan
        self.providers = providers
        self.youtube = youtube
        self.payments = payments
        self.reportRetention = reportRetention
        self.logger = logger
    }

    /// The report jobs: making reports and expiring their files.
    public var reports: ReportJobs {
        ReportJobs(client: client, storage: providers.storage, retention: reportRetention, logger: logger)
    }

    /// The pipeline's stage jobs.
    public var pipeline: PipelineJobs { PipelineJobs(client: client, plan: plan, providers: providers, logger: logger) }

    /// The publishing jobs, when YouTube is configured.
    public var publishing: PublishJobs? {
        youtube.map { youtube in
            PublishJobs(client: client, gateway: youtube.integration.gateway, cipher: youtube.integration.cipher, policy: youtube.integration.policy,
                        storage: youtube.storage, now: youtube.now, logger: logger)
        }
    }

    /// The channel sync jobs, when YouTube is configured.
    public var channelSync: ChannelSyncJobs? {
        youtube.map { youtube in
            ChannelSyncJobs(client: client, gateway: youtube.integration.gateway, cipher: youtube.integration.cipher,
                            policy: youtube.integration.policy, now: youtube.now, logger: logger)
        }
    }

    /// Registers every kind into `registry`.
    public func register(into registry: inout JobRegistry) {
        DiagnosticJobs.register(into: &registry)
        pipeline.register(into: &registry)
        reports.register(into: &registry)
        publishing?.register(into: &registry)
        channelSync?.register(into: &registry)
        payments.map(PaymentJobs.init)?.register(into: &registry)
        ModelJobs(client: client, storage: providers.storage, logger: logger).register(into: &registry)
    }

    /// A registry holding every kind.
    public func registry() -> JobRegistry {
        var registry = JobRegistry()
        register(into: &registry)
        return registry
    }
}
