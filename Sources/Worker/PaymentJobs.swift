import Domain
import Queue

/// Stripe's events as queue jobs (`stripe.event`): each stored event is handled by fetching
/// the subscription it concerns afresh and applying it (`Payments.handle`). A failure (Stripe
/// unreachable) is retried by the queue with its backoff; the event stays stored meanwhile.
public struct PaymentJobs: Sendable {
    public let payments: Payments

    public init(payments: Payments) { self.payments = payments }

    public func register(into registry: inout JobRegistry) {
        registry.register(StripeEventArgs.kind, timeout: .seconds(120)) { context in
            try await payments.handle(eventID: try context.args(StripeEventArgs.self).eventID)
            return .completed
        }
    }
}
