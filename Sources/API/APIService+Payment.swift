package import Foundation
import Domain
package import OpenAPIRuntime

/// Payment & Subscription: the plan's subscription, cards and invoices on the payment
/// provider, and the provider's own signed webhooks.
extension APIService {
    /// Payments, or 503 on an instance configured without them.
    func requirePayments() throws -> Payments {
        guard let payments else { throw APIError.serviceUnavailable("Payments are not configured on this instance") }
        return payments
    }

    func getSubscription(_ input: Operations.GetSubscription.Input) async throws -> Operations.GetSubscription.Output {
        let caller = try CurrentUser.require()
        return .ok(.init(body: .json(Self.subscription(try await requirePayments().overview(userID: caller.user.id)))))
    }

    func subscribe(_ input: Operations.Subscribe.Input) async throws -> Operations.Subscribe.Output {
        let caller = try CurrentUser.require()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        let overview = try await requirePayments().subscribe(user: caller.user, tier: body.tier.rawValue, paymentMethodID: body.paymentMethodId)
        return .created(.init(body: .json(Self.subscription(overview))))
    }

    func updateSubscription(_ input: Operations.UpdateSubscription.Input) async throws -> Operations.UpdateSubscription.Output {
        let caller = try CurrentUser.require()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        return .ok(.init(body: .json(Self.subscription(try await requirePayments().change(user: caller.user, tier: body.tier.rawValue)))))
    }

    func cancelSubscription(_ input: Operations.CancelSubscription.Input) async throws -> Operations.CancelSubscription.Output {
        let caller = try CurrentUser.require()
        let overview = try await requirePayments().cancel(user: caller.user, immediately: input.query.immediately ?? false)
        return .ok(.init(body: .json(Self.subscription(overview))))
    }

    func listInvoices(_ input: Operations.ListInvoices.Input) async throws -> Operations.ListInvoices.Output {
        let caller = try CurrentUser.require()
        let limit = input.query.limit ?? 10
        guard (1...100).contains(limit) else { throw APIError.validation("limit must be from 1 to 100", field: "limit") }
        if let cursor = input.query.startingAfter {
            guard Payments.isProviderID(cursor, prefix: "in_") else { throw APIError.validation("starting_after must be an invoice id (in_…) from next_cursor", field: "starting_after") }
        }
        let page = try await requirePayments().invoices(userID: caller.user.id, limit: limit, startingAfter: input.query.startingAfter)
        return .ok(.init(body: .json(.init(
            invoices: page.invoices.map(Self.invoice), hasMore: page.hasMore,
            nextCursor: page.hasMore ? page.invoices.last?.id : nil))))
    }

    func listPaymentMethods(_ input: Operations.ListPaymentMethods.Input) async throws -> Operations.ListPaymentMethods.Output {
        let caller = try CurrentUser.require()
        let (cards, defaultID) = try await requirePayments().cards(userID: caller.user.id)
        let ordered = cards.filter { $0.id == defaultID } + cards.filter { $0.id != defaultID }
        return .ok(.init(body: .json(.init(paymentMethods: ordered.map { Self.paymentMethod($0, isDefault: $0.id == defaultID) }))))
    }

    func addPaymentMethod(_ input: Operations.AddPaymentMethod.Input) async throws -> Operations.AddPaymentMethod.Output {
        let caller = try CurrentUser.require()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        // Card details belong to Stripe.js: a body carrying them is refused, and neither the
        // body nor the fields' values are logged or echoed.
        let cardFields: Set<String> = ["card", "number", "card_number", "cardnumber", "pan", "cvc", "cvv", "exp_month", "exp_year"]
        if let field = body.additionalProperties.value.keys.first(where: { cardFields.contains($0.lowercased()) }) {
            throw APIError.validation("Card details are never accepted here: create a payment method with Stripe.js and send its id (pm_…)",
                                      field: field)
        }
        let card = try await requirePayments().addCard(user: caller.user, paymentMethodID: body.paymentMethodId)
        return .created(.init(body: .json(Self.paymentMethod(card, isDefault: true))))
    }

    func receiveStripeWebhook(_ input: Operations.ReceiveStripeWebhook.Input) async throws -> Operations.ReceiveStripeWebhook.Output {
        let payments = try requirePayments()
        guard !stripeWebhookSecrets.isEmpty else { throw APIError.serviceUnavailable("No Stripe webhook secret is configured") }
        guard case let .any(stream) = input.body else { throw APIError.validation("Expected the event as the body") }
        let payload: Data
        do { payload = Data(try await ArraySlice(collecting: stream, upTo: 1 << 20)) } catch {
            throw APIError.payloadTooLarge
        }
        guard let header = input.headers.stripeSignature else {
            throw APIError.validation("The Stripe-Signature header is missing", field: "Stripe-Signature")
        }
        do {
            try StripeSignature.verify(payload: payload, header: header, secrets: stripeWebhookSecrets)
        } catch {
            throw APIError.validation("The event is refused: \(error)", field: "Stripe-Signature")
        }
        let receipt = try await payments.receive(payload: payload)
        return .ok(.init(body: .json(.init(received: true, duplicate: receipt == .duplicate))))
    }

    // MARK: Shapes

    static func subscription(_ overview: SubscriptionOverview) -> Components.Schemas.Subscription {
        .init(
            tier: .init(rawValue: overview.plan.tier) ?? .free,
            status: Components.Schemas.Subscription.StatusPayload(rawValue: overview.status) ?? .none,
            pendingTier: overview.pendingTier.flatMap { .init(rawValue: $0) },
            priceCents: overview.price?.amountCents ?? overview.plan.priceCents,
            currency: overview.price?.currency ?? "usd",
            currentPeriodStart: overview.periodStart, currentPeriodEnd: overview.periodEnd,
            cancelAtPeriodEnd: overview.cancelAtPeriodEnd, pastDueSince: overview.pastDueSince,
            paymentMethod: overview.paymentMethod.map { paymentMethod($0, isDefault: true) },
            limits: .init(videosPerMonth: overview.plan.videosPerMonth, channels: overview.plan.channels,
                          youtubeAccounts: overview.plan.youtubeAccounts),
            usage: .init(videosThisMonth: overview.usage.videosThisMonth, channels: overview.usage.channels,
                         youtubeAccounts: overview.usage.youtubeAccounts))
    }

    static func paymentMethod(_ card: PaymentCard, isDefault: Bool) -> Components.Schemas.PaymentMethod {
        .init(id: card.id, brand: card.brand, last4: card.last4, expMonth: card.expMonth, expYear: card.expYear, _default: isDefault)
    }

    static func invoice(_ invoice: BillingInvoice) -> Components.Schemas.Invoice {
        .init(
            id: invoice.id, number: invoice.number, status: .init(rawValue: invoice.status) ?? .open, currency: invoice.currency,
            totalCents: invoice.totalCents, amountDueCents: invoice.amountDueCents, amountPaidCents: invoice.amountPaidCents,
            attemptCount: invoice.attemptCount, created: invoice.created, periodStart: invoice.periodStart, periodEnd: invoice.periodEnd,
            hostedInvoiceUrl: invoice.hostedURL, invoicePdf: invoice.pdfURL,
            lines: invoice.lines.map {
                .init(description: $0.description, amountCents: $0.amountCents, proration: $0.proration,
                      periodStart: $0.periodStart, periodEnd: $0.periodEnd)
            })
    }
}
