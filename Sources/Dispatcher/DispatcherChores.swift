import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Every chore the dispatcher's leader runs, in one list: the queue's maintenance (rescue,
/// promotion, pruning, dead workers) and the domain's (the email outbox, rate-limit windows,
/// abandoned cost reservations, budget alerts, waking publications after the quota reset, webhook fan-out and
/// pruning, credentials, the outbox of events, clear TOTP secrets), and the periodic jobs the code
/// defines (with YouTube, the channel syncs' `ChannelStats.syncSchedule`).
/// `ytempire dispatcher`, `ytempire up` and the tests' pipeline fleet all run this list, so a
/// chore added here runs everywhere.
public enum DispatcherChores {
    /// What the chores need and how often the busiest run. Every default is production's.
    public struct Settings: Sendable {
        /// The queue's maintenance intervals and retentions.
        public var maintenance = MaintenanceConfiguration()
        /// How often reservations no attempt holds are settled.
        public var reservationSettleInterval: Duration = .seconds(5)
        /// How often budgets' alert thresholds are looked at.
        public var budgetAlertInterval: Duration = .seconds(5)
        /// How often the webhook fan-out runs when no NOTIFY woke it.
        public var fanoutInterval: Duration = .seconds(5)
        /// How often publications waiting for the quota reset are looked at.
        public var quotaResetInterval: Duration = .seconds(30)
        /// The clock quota days are counted by (tests move it).
        public var now: @Sendable () -> Date = { Date() }
        /// How long finished webhook deliveries and dispatched events are kept.
        public var webhookRetention: Duration = .seconds(30 * 86_400)
        /// Where the email outbox goes.
        public var emailTransport: any EmailTransport
        /// Opens webhook secrets and seals TOTP secrets.
        public var cipher: TokenCipher
        public var webhookPolicy: WebhookPolicy
        /// Whether linked channels are synced daily (YouTube is configured).
        public var syncsChannels: Bool

        public init(emailTransport: any EmailTransport, cipher: TokenCipher, webhookPolicy: WebhookPolicy, syncsChannels: Bool) {
            self.emailTransport = emailTransport
            self.cipher = cipher
            self.webhookPolicy = webhookPolicy
            self.syncsChannels = syncsChannels
        }
    }

    /// The chores, in the order the leader starts them.
    public static func all(client: PostgresClient, settings: Settings, logger: Logger) -> [any MaintenanceTask] {
        let deliveries = WebhookDeliveryStore(client: client, cipher: settings.cipher, policy: settings.webhookPolicy, logger: logger)
        return Maintainer.queueTasks(jobs: JobStore(client: client, logger: logger), workers: WorkerStore(client: client, logger: logger),
                                     configuration: settings.maintenance,
                                     periodicJobs: [ReportStore.expirySchedule, TrainModelArgs.nightly] + (settings.syncsChannels ? [ChannelStats.syncSchedule] : []))
            + [EmailSender(client: client, transport: settings.emailTransport, logger: logger),
               RateLimitPruner(client: client, logger: logger),
               ReservationSettler(ledger: CostLedger(client: client, logger: logger), interval: settings.reservationSettleInterval),
               BudgetAlerter(client: client, logger: logger, interval: settings.budgetAlertInterval),
               QuotaResetWaker(publications: PublicationStore(client: client, logger: logger), interval: settings.quotaResetInterval, now: settings.now),
               WebhookFanout(store: deliveries, interval: settings.fanoutInterval), WebhookPruner(store: deliveries, retention: settings.webhookRetention),
               CredentialPruner(client: client, logger: logger),
               OutboxPruner(client: client, logger: logger, retention: settings.webhookRetention),
               TwoFactorSecretSealer(users: UserRepository(client: client, logger: logger, cipher: settings.cipher))]
    }
}
