import Foundation

/// Subscriptions, invoices and their payments: creation with the first invoice charged at
/// once, plan changes with proration, cancellation now or at the period's end, renewals and
/// Smart-Retries-like dunning on the customer's clock.
extension StripeSandbox {
    typealias State = StripeSandboxState

    // MARK: Subscriptions

    /// `customer`, `items[0][price]`, `items[0][quantity]`, `default_payment_method`,
    /// `payment_behavior` (`allow_incomplete` default, `error_if_incomplete`, `default_incomplete`),
    /// `cancel_at_period_end`, `metadata`.
    func createSubscription(_ form: StripeForm) -> Answer {
        guard let customerID = form.value("customer") else { return StripeError.parameterMissing("customer") }
        let items = form.hashes("items")
        guard let first = items.first, let priceID = first["price"], !priceID.isEmpty else { return StripeError.parameterMissing("items[0][price]") }
        let quantity = first["quantity"].flatMap { Int($0) } ?? 1
        guard Self.quantities.contains(quantity) else { return StripeError.invalid("Invalid quantity", param: "items[0][quantity]") }
        let behavior = form.value("payment_behavior") ?? "allow_incomplete"
        return mutate { state in
            guard let customer = state.customers[customerID], !customer.deleted else { return StripeError.missing(customerID, param: "customer", kind: "customer") }
            guard let price = state.prices[priceID], price.active else { return StripeError.missing(priceID, param: "items[0][price]", kind: "price") }
            let method = form.value("default_payment_method") ?? customer.defaultPaymentMethod
            if let method, state.paymentMethods[method]?.customer != customerID {
                return StripeError.invalid("The customer does not have a payment method with the ID \(method).", param: "default_payment_method")
            }
            guard method != nil || behavior == "default_incomplete" else {
                return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "resource_missing",
                                          message: "This customer has no attached payment source or default payment method.")
            }
            let now = time(of: customerID, state)
            let saved = state
            var sub = State.Subscription(id: stripeID("sub_"), customer: customerID, status: "incomplete",
                                         items: [State.Item(id: stripeID("si_"), price: priceID, quantity: quantity)],
                                         currentPeriodStart: now, currentPeriodEnd: periodEnd(anchor: now, price, periods: 1),
                                         cancelAtPeriodEnd: form.bool("cancel_at_period_end") ?? false,
                                         defaultPaymentMethod: form.value("default_payment_method"), metadata: form.hash("metadata"),
                                         created: now, startDate: now)
            let line = periodLine(price, quantity: quantity, from: sub.currentPeriodStart, to: sub.currentPeriodEnd)
            state.subscriptions[sub.id] = sub
            state.remember(sub.id, kind: "subscription")
            let invoiceID = createInvoice(for: sub, lines: [line], reason: "subscription_create", at: now, in: &state)
            sub.latestInvoice = invoiceID
            state.subscriptions[sub.id] = sub
            let outcome = behavior == "default_incomplete" ? nil : pay(invoiceID, at: now, in: &state)
            if case .declined(let decline)? = outcome, behavior == "error_if_incomplete" {
                state = saved  // nothing is created
                return decline
            }
            sub = state.subscriptions[sub.id] ?? sub
            sub.status = state.invoices[invoiceID]?.status == "paid" ? "active" : "incomplete"
            state.subscriptions[sub.id] = sub
            record("customer.subscription.created", render(sub, state), at: now, in: &state)
            emitPaymentEvents(invoiceID, outcome: outcome, at: now, in: &state)
            return .ok(render(sub, state, expand: form.list("expand")))
        }
    }

    /// Quantities the sandbox accepts (with `unit_amount` ≤ 99,999,999 no amount can overflow).
    static let quantities = 1...10_000

    func subscription(_ id: String) -> Answer {
        state.withLock { state in state.subscriptions[id].map { .ok(render($0, state)) } ?? StripeError.missing(id, kind: "subscription") }
    }

    func listSubscriptions(_ form: StripeForm) -> Answer {
        state.withLock { state in
            let customer = form.value("customer")
            let status = form.value("status")
            let ids = state.newestFirst("subscription").filter { id in
                guard let sub = state.subscriptions[id] else { return false }
                let statusMatches = status == nil || status == "all" ? (status == "all" || sub.status != "canceled") : sub.status == status
                return (customer == nil || sub.customer == customer) && statusMatches
            }
            return page(ids, url: "/v1/subscriptions", form: form) { id in state.subscriptions[id].map { render($0, state) } }
        }
    }

    /// A plan change (`items[0][id]` with `items[0][price]`) prorated per `proration_behavior`
    /// (`create_prorations` default: on the next invoice; `always_invoice`: invoiced and
    /// charged now; `none`), `cancel_at_period_end`, `default_payment_method`, `metadata`.
    /// With `payment_behavior=error_if_incomplete` a declined proration charge changes nothing.
    func updateSubscription(_ id: String, _ form: StripeForm) -> Answer {
        mutate { state in
            guard var sub = state.subscriptions[id] else { return StripeError.missing(id, kind: "subscription") }
            guard !["canceled", "incomplete_expired"].contains(sub.status) else {
                return StripeError.invalid("A canceled subscription can only update its cancellation_details and metadata.", param: "id")
            }
            let now = time(of: sub.customer, state)
            let saved = state
            var previous: [String: Any] = [:]
            if let cancel = form.bool("cancel_at_period_end"), cancel != sub.cancelAtPeriodEnd {
                previous["cancel_at_period_end"] = sub.cancelAtPeriodEnd
                sub.cancelAtPeriodEnd = cancel
                sub.canceledAt = cancel ? now : nil
            }
            if let method = form["default_payment_method"] {
                if !method.isEmpty, state.paymentMethods[method]?.customer != sub.customer {
                    return StripeError.invalid("The customer does not have a payment method with the ID \(method).", param: "default_payment_method")
                }
                previous["default_payment_method"] = sub.defaultPaymentMethod ?? NSNull()
                sub.defaultPaymentMethod = method.isEmpty ? nil : method
            }
            // As Stripe: an empty value removes the key.
            for (key, value) in form.hash("metadata") { sub.metadata[key] = value.isEmpty ? nil : value }
            var prorationInvoice: String?
            if let change = form.hashes("items").first, let newPriceID = change["price"], !newPriceID.isEmpty {
                guard let itemID = change["id"], let index = sub.items.firstIndex(where: { $0.id == itemID }) else {
                    return StripeError.invalid("Changing a plan needs the subscription item's id (items[0][id]); adding a second item is not supported here.",
                                               param: "items[0][id]")
                }
                guard let newPrice = state.prices[newPriceID], newPrice.active, let oldPrice = state.prices[sub.items[index].price] else {
                    return StripeError.missing(newPriceID, param: "items[0][price]", kind: "price")
                }
                guard newPrice.currency == oldPrice.currency, newPrice.interval == oldPrice.interval, newPrice.intervalCount == oldPrice.intervalCount else {
                    return StripeError.invalid("The new price must have the same currency and interval as the old one.", param: "items[0][price]")
                }
                previous["items"] = renderItems(sub, state)
                let quantity = change["quantity"].flatMap { Int($0) } ?? sub.items[index].quantity
                guard Self.quantities.contains(quantity) else { return StripeError.invalid("Invalid quantity", param: "items[0][quantity]") }
                let lines = prorations(from: oldPrice, quantity: sub.items[index].quantity, to: newPrice, newQuantity: quantity, sub: sub, at: now)
                sub.items[index].price = newPriceID
                sub.items[index].quantity = quantity
                switch form.value("proration_behavior") ?? "create_prorations" {
                case "none": break
                case "always_invoice":
                    state.subscriptions[id] = sub
                    let invoiceID = createInvoice(for: sub, lines: sub.pendingLines + lines, reason: "subscription_update", at: now, in: &state)
                    sub.pendingLines = []
                    sub.latestInvoice = invoiceID
                    prorationInvoice = invoiceID
                case "create_prorations": sub.pendingLines += lines
                default: return StripeError.invalid("Invalid proration_behavior", param: "proration_behavior")
                }
            }
            state.subscriptions[id] = sub
            if let invoiceID = prorationInvoice {
                let outcome = pay(invoiceID, at: now, in: &state)
                if case .declined(let decline) = outcome, form.value("payment_behavior") == "error_if_incomplete" {
                    state = saved
                    return decline
                }
                if case .declined = outcome {
                    previous["status"] = sub.status
                    state.subscriptions[id]?.status = "past_due"
                }
                emitPaymentEvents(invoiceID, outcome: outcome, at: now, in: &state)
            }
            if let updated = state.subscriptions[id], !previous.isEmpty {
                record("customer.subscription.updated", render(updated, state), previous: previous, at: now, in: &state)
            }
            return .ok(state.subscriptions[id].map { render($0, state, expand: form.list("expand")) } ?? [:])
        }
    }

    /// Cancels now: `canceled`, `customer.subscription.deleted`.
    func cancelSubscription(_ id: String) -> Answer {
        mutate { state in
            guard let sub = state.subscriptions[id] else { return StripeError.missing(id, kind: "subscription") }
            guard sub.status != "canceled" else {
                return StripeError.invalid("No such subscription: '\(id)' is already canceled.", param: "id")
            }
            endSubscription(id, at: time(of: sub.customer, state), in: &state)
            return .ok(state.subscriptions[id].map { render($0, state) } ?? [:])
        }
    }

    func endSubscription(_ id: String, at time: Int, in state: inout State) {
        guard var sub = state.subscriptions[id] else { return }
        sub.status = "canceled"
        sub.canceledAt = sub.canceledAt ?? time
        sub.endedAt = time
        state.subscriptions[id] = sub
        for invoice in state.invoices.values where invoice.subscription == id && invoice.status == "open" {
            state.invoices[invoice.id]?.nextPaymentAttempt = nil
        }
        record("customer.subscription.deleted", render(sub, state), at: time, in: &state)
    }

    /// The end of the `periods`-th period counted from the billing cycle anchor (not from the
    /// last period's end, so a subscription begun on the 31st keeps the month's last day).
    func periodEnd(anchor: Int, _ price: State.Price, periods: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let component: Calendar.Component = switch price.interval {
        case "day": .day
        case "week": .weekOfYear
        case "year": .year
        default: .month
        }
        let date = calendar.date(byAdding: component, value: price.intervalCount * periods, to: Date(timeIntervalSince1970: TimeInterval(anchor)))
        return date.map { Int($0.timeIntervalSince1970) } ?? anchor + 30 * 86_400 * periods
    }

    func periodLine(_ price: State.Price, quantity: Int, from start: Int, to end: Int) -> State.Line {
        let name = state_productName(price)
        return State.Line(id: stripeID("il_"), amount: price.unitAmount * quantity, currency: price.currency,
                          description: "\(quantity) × \(name) (at \(Self.money(price.unitAmount, price.currency)) / \(price.interval))",
                          price: price.id, quantity: quantity, proration: false, periodStart: start, periodEnd: end)
    }

    private func state_productName(_ price: State.Price) -> String { price.nickname ?? price.lookupKey ?? price.product }

    /// Unused time on the old price (a credit) and remaining time on the new one, in whole
    /// cents, for the rest of the current period.
    func prorations(from old: State.Price, quantity: Int, to new: State.Price, newQuantity: Int, sub: State.Subscription, at now: Int) -> [State.Line] {
        let total = max(1, sub.currentPeriodEnd - sub.currentPeriodStart)
        let remaining = max(0, sub.currentPeriodEnd - now)
        func share(_ amount: Int) -> Int { Int((Double(amount) * Double(remaining) / Double(total)).rounded()) }
        let day = Self.day(now)
        return [
            State.Line(id: stripeID("il_"), amount: -share(old.unitAmount * quantity), currency: old.currency,
                       description: "Unused time on \(quantity) × \(state_productName(old)) after \(day)", price: old.id, quantity: quantity,
                       proration: true, periodStart: now, periodEnd: sub.currentPeriodEnd),
            State.Line(id: stripeID("il_"), amount: share(new.unitAmount * newQuantity), currency: new.currency,
                       description: "Remaining time on \(newQuantity) × \(state_productName(new)) after \(day)", price: new.id,
                       quantity: newQuantity, proration: true, periodStart: now, periodEnd: sub.currentPeriodEnd),
        ]
    }

    // MARK: Invoices and payments

    /// Creates and finalizes an invoice (`invoice.created`, `invoice.finalized`).
    func createInvoice(for sub: State.Subscription, lines: [State.Line], reason: String, at now: Int, in state: inout State) -> String {
        state.invoiceCount += 1
        let currency = lines.first?.currency ?? "usd"
        let invoice = State.Invoice(id: stripeID("in_"), number: String(format: "SBX-%06d", state.invoiceCount), customer: sub.customer,
                                    subscription: sub.id, status: "open", billingReason: reason, currency: currency, lines: lines,
                                    periodStart: lines.map(\.periodStart).min() ?? now, periodEnd: lines.map(\.periodEnd).max() ?? now,
                                    amountPaid: 0, attemptCount: 0, created: now, finalizedAt: now)
        state.invoices[invoice.id] = invoice
        state.remember(invoice.id, kind: "invoice")
        record("invoice.created", render(invoice), at: now, in: &state)
        record("invoice.finalized", render(invoice), at: now, in: &state)
        return invoice.id
    }

    enum PaymentOutcome {
        case paid
        case declined(Answer)
    }

    /// Charges an open invoice to the subscription's payment method, else the customer's
    /// default; nothing due is paid at once.
    func pay(_ invoiceID: String, at now: Int, in state: inout State) -> PaymentOutcome {
        guard var invoice = state.invoices[invoiceID], invoice.status == "open" else { return .paid }
        let sub = invoice.subscription.flatMap { state.subscriptions[$0] }
        // The subscription's method if it is still attached, else the customer's default.
        let own = sub?.defaultPaymentMethod.flatMap { state.paymentMethods[$0]?.customer == invoice.customer ? $0 : nil }
        let methodID = own ?? state.customers[invoice.customer]?.defaultPaymentMethod
        invoice.attemptCount += 1
        invoice.paymentMethod = methodID
        let method = methodID.flatMap { state.paymentMethods[$0] }
        if invoice.amountDue > 0, method?.behavior != .succeeds || method?.customer != invoice.customer {
            invoice.nextPaymentAttempt = nil
            state.invoices[invoiceID] = invoice
            state.customers[invoice.customer]?.delinquent = true
            let message = method == nil ? "This customer has no attached payment source or default payment method." : "Your card was declined."
            return .declined(StripeError.answer(status: .paymentRequired, type: "card_error", code: "card_declined", message: message,
                                                declineCode: method == nil ? nil : "generic_decline",
                                                extra: ["payment_method": method.map(render) ?? NSNull()]))
        }
        invoice.status = "paid"
        invoice.amountPaid = invoice.amountDue
        invoice.paidAt = now
        invoice.nextPaymentAttempt = nil
        state.invoices[invoiceID] = invoice
        state.customers[invoice.customer]?.delinquent = false
        return .paid
    }

    /// `invoice.paid` and `invoice.payment_succeeded`, or `invoice.payment_failed`.
    func emitPaymentEvents(_ invoiceID: String, outcome: PaymentOutcome?, at now: Int, in state: inout State) {
        guard let outcome, let invoice = state.invoices[invoiceID] else { return }
        switch outcome {
        case .paid:
            record("invoice.paid", render(invoice), at: now, in: &state)
            record("invoice.payment_succeeded", render(invoice), at: now, in: &state)
        case .declined:
            record("invoice.payment_failed", render(invoice), at: now, in: &state)
        }
    }

    /// Pays an open invoice now (`payment_method`, else the subscription's or customer's
    /// default): a past-due subscription becomes active again; a decline is a 402 and counts
    /// as an attempt.
    func payInvoice(_ id: String, _ form: StripeForm) -> Answer {
        mutate { state in
            guard let invoice = state.invoices[id] else { return StripeError.missing(id, kind: "invoice") }
            guard invoice.status == "open" else {
                return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "invoice_not_open",
                                          message: "Invoice is already \(invoice.status == "paid" ? "paid" : invoice.status).")
            }
            let now = time(of: invoice.customer, state)
            if let method = form.value("payment_method") {
                guard state.paymentMethods[method]?.customer == invoice.customer else {
                    return StripeError.invalid("The customer does not have a payment method with the ID \(method).", param: "payment_method")
                }
                if let subID = invoice.subscription { state.subscriptions[subID]?.defaultPaymentMethod = method }
            }
            let outcome = pay(id, at: now, in: &state)
            emitPaymentEvents(id, outcome: outcome, at: now, in: &state)
            switch outcome {
            case .declined(let answer):
                return answer
            case .paid:
                if let subID = invoice.subscription, let sub = state.subscriptions[subID], sub.status == "past_due" || sub.status == "incomplete" {
                    state.subscriptions[subID]?.status = "active"
                    if let updated = state.subscriptions[subID] {
                        record("customer.subscription.updated", render(updated, state), previous: ["status": sub.status], at: now, in: &state)
                    }
                }
                return .ok(state.invoices[id].map(render) ?? [:])
            }
        }
    }

    func invoice(_ id: String) -> Answer {
        state.withLock { state in state.invoices[id].map { .ok(render($0)) } ?? StripeError.missing(id, kind: "invoice") }
    }

    /// `customer`, `subscription`, `status`.
    func listInvoices(_ form: StripeForm) -> Answer {
        state.withLock { state in
            let (customer, subscription, status) = (form.value("customer"), form.value("subscription"), form.value("status"))
            let ids = state.newestFirst("invoice").filter { id in
                guard let invoice = state.invoices[id] else { return false }
                return (customer == nil || invoice.customer == customer) && (subscription == nil || invoice.subscription == subscription)
                    && (status == nil || invoice.status == status)
            }
            return page(ids, url: "/v1/invoices", form: form) { state.invoices[$0].map(render) }
        }
    }

    // MARK: Time passing

    /// Everything due for `customers` up to `until`, in time order: period ends (a renewal
    /// invoice charged, or the end of a subscription set to cancel) and payment retries.
    /// - Returns: how many actions ran.
    @discardableResult
    func runDue(customers: Set<String>, until: Int, in state: inout State) -> Int {
        for step in 0..<10_000 {
            var next: (time: Int, action: DueAction)?
            for sub in state.subscriptions.values where customers.contains(sub.customer) && ["active", "past_due", "trialing"].contains(sub.status) {
                if sub.currentPeriodEnd <= until, next.map({ sub.currentPeriodEnd < $0.time }) ?? true {
                    next = (sub.currentPeriodEnd, .periodEnd(sub.id))
                }
            }
            for invoice in state.invoices.values where customers.contains(invoice.customer) && invoice.status == "open" {
                if let at = invoice.nextPaymentAttempt, at <= until, next.map({ at < $0.time }) ?? true { next = (at, .retry(invoice.id)) }
            }
            guard let (time, action) = next else { return step }
            switch action {
            case .periodEnd(let id): endPeriod(id, at: time, in: &state)
            case .retry(let id): retry(id, at: time, in: &state)
            }
        }
        return 10_000
    }

    enum DueAction {
        case periodEnd(String)
        case retry(String)
    }

    private func endPeriod(_ id: String, at time: Int, in state: inout State) {
        guard var sub = state.subscriptions[id], let item = sub.items.first, let price = state.prices[item.price] else { return }
        if sub.cancelAtPeriodEnd {
            endSubscription(id, at: sub.currentPeriodEnd, in: &state)
            return
        }
        var previous: [String: Any] = ["items": renderItems(sub, state), "latest_invoice": sub.latestInvoice ?? NSNull()]
        sub.periods += 1
        sub.currentPeriodStart = sub.currentPeriodEnd
        sub.currentPeriodEnd = periodEnd(anchor: sub.startDate, price, periods: sub.periods)
        let lines = sub.pendingLines + [periodLine(price, quantity: item.quantity, from: sub.currentPeriodStart, to: sub.currentPeriodEnd)]
        sub.pendingLines = []
        state.subscriptions[id] = sub
        let invoiceID = createInvoice(for: sub, lines: lines, reason: "subscription_cycle", at: time, in: &state)
        sub.latestInvoice = invoiceID
        let outcome = pay(invoiceID, at: time, in: &state)
        switch outcome {
        case .paid:
            if sub.status != "active" { previous["status"] = sub.status }
            sub.status = "active"
        case .declined:
            if sub.status != "past_due" { previous["status"] = sub.status }
            sub.status = "past_due"
            state.invoices[invoiceID]?.nextPaymentAttempt = configuration.retryDays.first.map { time + $0 * 86_400 }
        }
        state.subscriptions[id] = sub
        emitPaymentEvents(invoiceID, outcome: outcome, at: time, in: &state)
        record("customer.subscription.updated", render(sub, state), previous: previous, at: time, in: &state)
        if case .declined = outcome, configuration.retryDays.isEmpty { giveUp(invoiceID, at: time, in: &state) }
    }

    private func retry(_ invoiceID: String, at time: Int, in state: inout State) {
        guard let invoice = state.invoices[invoiceID] else { return }
        let outcome = pay(invoiceID, at: time, in: &state)
        if case .declined = outcome, (state.invoices[invoiceID]?.attemptCount ?? 1) <= configuration.retryDays.count {
            // Scheduled before the event is written: its `next_payment_attempt` says another try comes.
            let attempt = state.invoices[invoiceID]?.attemptCount ?? 1
            state.invoices[invoiceID]?.nextPaymentAttempt = time + configuration.retryDays[attempt - 1] * 86_400
        }
        emitPaymentEvents(invoiceID, outcome: outcome, at: time, in: &state)
        guard let subID = invoice.subscription, var sub = state.subscriptions[subID] else { return }
        switch outcome {
        case .paid:
            guard sub.status != "active" else { return }
            let previous: [String: Any] = ["status": sub.status]
            sub.status = "active"
            state.subscriptions[subID] = sub
            record("customer.subscription.updated", render(sub, state), previous: previous, at: time, in: &state)
        case .declined:
            if (state.invoices[invoiceID]?.attemptCount ?? 1) > configuration.retryDays.count { giveUp(invoiceID, at: time, in: &state) }
        }
    }

    /// Retries exhausted: the invoice is uncollectible and the subscription canceled.
    private func giveUp(_ invoiceID: String, at time: Int, in state: inout State) {
        state.invoices[invoiceID]?.status = "uncollectible"
        state.invoices[invoiceID]?.markedUncollectibleAt = time
        state.invoices[invoiceID]?.nextPaymentAttempt = nil
        if let subID = state.invoices[invoiceID]?.subscription { endSubscription(subID, at: time, in: &state) }
    }

    // MARK: Rendering

    func renderItems(_ sub: State.Subscription, _ state: State) -> [String: Any] {
        let data: [[String: Any]] = sub.items.map { item in
            [
                "id": item.id, "object": "subscription_item", "quantity": item.quantity, "subscription": sub.id, "created": sub.created,
                "price": state.prices[item.price].map { render($0, state) } ?? item.price, "metadata": [String: String](),
                "current_period_start": sub.currentPeriodStart, "current_period_end": sub.currentPeriodEnd,
            ]
        }
        return ["object": "list", "data": data, "has_more": false, "url": "/v1/subscription_items?subscription=\(sub.id)"]
    }

    func render(_ sub: State.Subscription, _ state: State, expand: [String] = []) -> [String: Any] {
        var latest: Any = sub.latestInvoice ?? NSNull()
        if expand.contains(where: { $0.hasPrefix("latest_invoice") }), let id = sub.latestInvoice, let invoice = state.invoices[id] {
            latest = render(invoice)
        }
        return [
            "id": sub.id, "object": "subscription", "livemode": false, "created": sub.created, "customer": sub.customer,
            "status": sub.status, "items": renderItems(sub, state), "cancel_at_period_end": sub.cancelAtPeriodEnd,
            "cancel_at": sub.cancelAtPeriodEnd ? sub.currentPeriodEnd : NSNull(), "canceled_at": sub.canceledAt ?? NSNull(),
            "ended_at": sub.endedAt ?? NSNull(), "default_payment_method": sub.defaultPaymentMethod ?? NSNull(),
            "latest_invoice": latest, "metadata": sub.metadata, "start_date": sub.startDate, "billing_cycle_anchor": sub.startDate,
            "collection_method": "charge_automatically", "currency": sub.items.first.flatMap { state.prices[$0.price]?.currency } ?? "usd",
            "trial_start": NSNull(), "trial_end": NSNull(), "pending_update": NSNull(),
            "test_clock": state.customers[sub.customer]?.testClock ?? NSNull(),
        ]
    }

    func render(_ invoice: State.Invoice) -> [String: Any] {
        let lines: [[String: Any]] = invoice.lines.map { line in
            [
                "id": line.id, "object": "line_item", "amount": line.amount, "currency": line.currency, "description": line.description,
                "quantity": line.quantity, "livemode": false, "metadata": [String: String](),
                "period": ["start": line.periodStart, "end": line.periodEnd],
                "parent": ["type": "subscription_item_details",
                           "subscription_item_details": ["proration": line.proration, "subscription": invoice.subscription.map { $0 as Any } ?? NSNull(),
                                                         "subscription_item": NSNull(), "invoice_item": NSNull()]],
                "pricing": ["type": "price_details", "price_details": ["price": line.price], "unit_amount_decimal": NSNull()],
            ]
        }
        let open = invoice.status == "open"
        let transitions: [String: Any] = ["finalized_at": invoice.finalizedAt ?? NSNull(), "paid_at": invoice.paidAt ?? NSNull(),
                                          "voided_at": NSNull(), "marked_uncollectible_at": invoice.markedUncollectibleAt ?? NSNull()]
        return [
            "id": invoice.id, "object": "invoice", "livemode": false, "created": invoice.created, "number": invoice.number,
            "customer": invoice.customer, "status": invoice.status, "billing_reason": invoice.billingReason, "currency": invoice.currency,
            "subtotal": invoice.total, "total": invoice.total, "amount_due": invoice.amountDue, "amount_paid": invoice.amountPaid,
            "amount_remaining": invoice.status == "paid" ? 0 : invoice.amountDue, "attempt_count": invoice.attemptCount,
            "attempted": invoice.attemptCount > 0, "next_payment_attempt": invoice.nextPaymentAttempt ?? NSNull(),
            "auto_advance": open, "period_start": invoice.periodStart, "period_end": invoice.periodEnd,
            "hosted_invoice_url": "https://invoice.stripe.sandbox/i/\(invoice.id)", "invoice_pdf": "https://pay.stripe.sandbox/invoice/\(invoice.id)/pdf",
            "status_transitions": transitions, "default_payment_method": invoice.paymentMethod ?? NSNull(),
            "parent": invoice.subscription.map { ["type": "subscription_details", "subscription_details": ["subscription": $0, "metadata": [String: String]()]] as [String: Any] } ?? NSNull(),
            "lines": ["object": "list", "data": lines, "has_more": false, "url": "/v1/invoices/\(invoice.id)/lines"],
        ]
    }

    static func money(_ cents: Int, _ currency: String) -> String {
        let sign = cents < 0 ? "-" : ""
        let value = cents.magnitude
        return "\(sign)\(currency == "usd" ? "$" : currency.uppercased() + " ")\(value / 100).\(String(format: "%02d", Int(value % 100)))"
    }

    static func day(_ time: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .gmt
        formatter.dateFormat = "d MMM yyyy"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}
