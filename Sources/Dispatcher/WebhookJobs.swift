import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Webhook delivery as queue jobs (`webhook.deliver` on queue `webhooks`): one job per
/// delivery, so however many dispatchers run, one sends it at a time. A failed attempt
/// snoozes the job for the retry schedule's wait (not spending the queue's attempts); an
/// endpoint with all its slots in flight makes the job wait a moment.
public struct WebhookJobs: Sendable {
    public let store: WebhookDeliveryStore
    public let sender: WebhookSender

    /// - Parameter addresses: where attempts may connect; by default what `policy` allows
    ///   (public addresses only unless it allows insecure receivers).
    public init(client: PostgresClient, cipher: TokenCipher, policy: WebhookPolicy, logger: Logger,
                addresses: OutboundAddressGuard? = nil) {
        self.store = WebhookDeliveryStore(client: client, cipher: cipher, policy: policy, logger: logger)
        self.sender = WebhookSender(timeout: policy.timeout, responseLimit: policy.responseLimit,
                                    addresses: addresses ?? .forWebhooks(policy))
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(WebhookDeliveryArgs.kind, timeout: store.policy.timeout + .seconds(30)) { context in try await deliver(context) }
    }

    func deliver(_ context: JobContext) async throws -> JobResult {
        let args = try context.args(WebhookDeliveryArgs.self)
        switch try await store.begin(deliveryID: args.deliveryID) {
        case .finished:
            return .completed
        case .busy:
            return .snooze(.milliseconds(Int64.random(in: 200...1000)))
        case .send(let attempt):
            let result = await sender.send(attempt)
            if !result.succeeded {
                context.logger.info("webhook attempt failed", metadata: [
                    "delivery": "\(attempt.deliveryID)", "attempt": "\(attempt.number)",
                    "status": "\(result.statusCode.map(String.init) ?? "none")", "error": "\(result.error ?? "")",
                ])
            }
            guard let wait = try await store.finish(attempt, result: result) else { return .completed }
            return .snooze(wait)
        }
    }
}
