import Domain
import Logging
import PostgresNIO
import Queue
import ServiceLifecycle

/// Everything a dispatcher process runs, built in one place: the leader election, the
/// maintainer running `DispatcherChores.all` while this process leads, and the webhook
/// sender (the `webhook.deliver` kind, claimed on the `webhooks` queue by this process's
/// worker). `ytempire dispatcher`, `ytempire up`, the tests' pipeline fleet and the webhook
/// bench all build it here, so a chore added once runs everywhere.
public struct DispatcherServices: Sendable {
    /// The queue the webhook sender claims, and its slots unless the process says otherwise.
    public static let senderQueue = WebhookDeliveryArgs.queue
    public static let senderSlots = 8

    public let elector: LeaderElector
    public let maintainer: Maintainer
    /// The webhook sender's job kind.
    public let webhooks: WebhookJobs

    /// - Parameters:
    ///   - candidateID: this process's id in the election (its worker id).
    ///   - notifier: must LISTEN on `DomainEvents.outboxChannel` (the fan-out's wake-up).
    ///   - extraTasks: more chores after the production list (tests at test speed).
    ///   - addresses: where webhook attempts may connect; by default what the policy allows.
    public init(client: PostgresClient, candidateID: String, leaderTTL: Duration = .seconds(15), electionName: String = "maintenance",
                settings: DispatcherChores.Settings, notifier: Notifier?, extraTasks: [any MaintenanceTask] = [],
                addresses: OutboundAddressGuard? = nil, logger: Logger) {
        elector = LeaderElector(store: LeaderStore(client: client, logger: logger), name: electionName, candidateID: candidateID,
                                ttl: leaderTTL, logger: logger)
        maintainer = Maintainer(elector: elector, tasks: DispatcherChores.all(client: client, settings: settings, logger: logger) + extraTasks,
                                notifier: notifier, runs: ChoreRunStore(client: client, logger: logger), logger: logger)
        webhooks = WebhookJobs(client: client, cipher: settings.cipher, policy: settings.webhookPolicy, logger: logger, addresses: addresses)
    }

    /// The services to run, in order: the election, then the chores.
    public var services: [any Service] { [elector, maintainer] }

    /// The notification channels a dispatcher's notifier must listen on.
    public static let channels = [DomainEvents.outboxChannel]

    /// Adds the webhook sender's kind to a worker's registry.
    public func register(into registry: inout JobRegistry) { webhooks.register(into: &registry) }

    /// `configuration` with the sender's queue added (its own slots kept if it has it).
    public static func addingSender(to configuration: WorkerConfiguration, slots: Int = senderSlots) -> WorkerConfiguration {
        var configuration = configuration
        if configuration.queues[senderQueue] == nil { configuration.queues[senderQueue] = slots }
        return configuration
    }
}
