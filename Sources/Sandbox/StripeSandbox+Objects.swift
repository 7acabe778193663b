import Foundation

/// Customers, payment methods (Stripe's test cards), setup intents, products, prices, events
/// and test clocks.
extension StripeSandbox {
    // MARK: Customers

    func createCustomer(_ form: StripeForm) -> Answer {
        mutate { state in
            if let clock = form.value("test_clock"), state.clocks[clock] == nil { return StripeError.missing(clock, param: "test_clock", kind: "test_clock") }
            let now = form.value("test_clock").flatMap { state.clocks[$0]?.frozenTime } ?? wallClock
            var customer = StripeSandboxState.Customer(id: stripeID("cus_"), email: form.value("email"), name: form.value("name"),
                                                       metadata: form.hash("metadata"), testClock: form.value("test_clock"), created: now)
            state.customers[customer.id] = customer
            state.remember(customer.id, kind: "customer")
            if let method = form.value("payment_method") {
                switch attachCard(method, to: customer.id, in: &state) {
                case .refused(let answer):
                    state.customers[customer.id] = nil
                    return answer
                case .attached(let id):
                    customer.defaultPaymentMethod = form.value("invoice_settings[default_payment_method]") == method ? id : nil
                    state.customers[customer.id] = customer
                }
            }
            record("customer.created", render(customer, state), at: now, in: &state)
            return .ok(render(customer, state))
        }
    }

    func customer(_ id: String) -> Answer {
        state.withLock { state in
            guard let customer = state.customers[id] else { return StripeError.missing(id, kind: "customer") }
            if customer.deleted { return .ok(["id": id, "object": "customer", "deleted": true]) }
            return .ok(render(customer, state))
        }
    }

    func updateCustomer(_ id: String, _ form: StripeForm) -> Answer {
        mutate { state in
            guard var customer = state.customers[id], !customer.deleted else { return StripeError.missing(id, kind: "customer") }
            if let email = form["email"] { customer.email = email.isEmpty ? nil : email }
            if let name = form["name"] { customer.name = name.isEmpty ? nil : name }
            customer.metadata.merge(form.hash("metadata")) { $1 }
            if let method = form["invoice_settings[default_payment_method]"] {
                if method.isEmpty {
                    customer.defaultPaymentMethod = nil
                } else {
                    guard let card = state.paymentMethods[method], card.customer == id else {
                        return StripeError.invalid("The customer does not have a payment method with the ID \(method). The payment method must be attached to the customer.",
                                                   param: "invoice_settings[default_payment_method]")
                    }
                    customer.defaultPaymentMethod = card.id
                }
            }
            state.customers[id] = customer
            record("customer.updated", render(customer, state), at: time(of: id, state), in: &state)
            return .ok(render(customer, state))
        }
    }

    func deleteCustomer(_ id: String) -> Answer {
        mutate { state in
            guard var customer = state.customers[id], !customer.deleted else { return StripeError.missing(id, kind: "customer") }
            let now = time(of: id, state)
            for sub in state.subscriptions.values where sub.customer == id && !["canceled", "incomplete_expired"].contains(sub.status) {
                endSubscription(sub.id, at: now, in: &state)
            }
            customer.deleted = true
            state.customers[id] = customer
            record("customer.deleted", render(customer, state), at: now, in: &state)
            return .ok(["id": id, "object": "customer", "deleted": true])
        }
    }

    func render(_ customer: StripeSandboxState.Customer, _ state: StripeSandboxState) -> [String: Any] {
        [
            "id": customer.id, "object": "customer", "livemode": false, "created": customer.created,
            "email": customer.email ?? NSNull(), "name": customer.name ?? NSNull(), "metadata": customer.metadata,
            "delinquent": customer.delinquent, "currency": "usd", "balance": 0,
            "invoice_settings": ["default_payment_method": customer.defaultPaymentMethod.map { $0 as Any } ?? NSNull(), "custom_fields": NSNull(),
                                 "footer": NSNull(), "rendering_options": NSNull()],
            "test_clock": customer.testClock ?? NSNull(),
        ]
    }

    /// The time a customer lives in: its test clock's, else the wall clock.
    func time(of customerID: String, _ state: StripeSandboxState) -> Int {
        state.customers[customerID]?.testClock.flatMap { state.clocks[$0]?.frozenTime } ?? wallClock
    }

    // MARK: Payment methods

    /// What one of Stripe's test payment method ids does.
    enum TestCard {
        case card(brand: String, last4: String, behavior: StripeSandboxState.CardBehavior)
        /// Attaching it is declined.
        case declined(code: String, decline: String?, message: String)
        case unknown
    }

    /// Stripe's test payment methods: what the magic id makes, or the decline its attach gets.
    static func testCard(_ id: String) -> TestCard {
        switch id {
        case "pm_card_visa": .card(brand: "visa", last4: "4242", behavior: .succeeds)
        case "pm_card_mastercard": .card(brand: "mastercard", last4: "4444", behavior: .succeeds)
        case "pm_card_visa_debit": .card(brand: "visa", last4: "5556", behavior: .succeeds)
        case "pm_card_amex": .card(brand: "amex", last4: "8431", behavior: .succeeds)
        case "pm_card_chargeCustomerFail": .card(brand: "visa", last4: "0341", behavior: .declinesCharges)
        case "pm_card_visa_chargeDeclined", "pm_card_chargeDeclined":
            .declined(code: "card_declined", decline: "generic_decline", message: "Your card was declined.")
        case "pm_card_visa_chargeDeclinedInsufficientFunds", "pm_card_chargeDeclinedInsufficientFunds":
            .declined(code: "card_declined", decline: "insufficient_funds", message: "Your card has insufficient funds.")
        case "pm_card_visa_chargeDeclinedLostCard", "pm_card_chargeDeclinedLostCard":
            .declined(code: "card_declined", decline: "lost_card", message: "Your card was declined.")
        case "pm_card_visa_chargeDeclinedStolenCard", "pm_card_chargeDeclinedStolenCard":
            .declined(code: "card_declined", decline: "stolen_card", message: "Your card was declined.")
        case "pm_card_chargeDeclinedExpiredCard": .declined(code: "expired_card", decline: nil, message: "Your card has expired.")
        case "pm_card_chargeDeclinedIncorrectCvc": .declined(code: "incorrect_cvc", decline: nil, message: "Your card's security code is incorrect.")
        case "pm_card_chargeDeclinedProcessingError":
            .declined(code: "processing_error", decline: nil, message: "An error occurred while processing your card. Try again in a little bit.")
        default: .unknown
        }
    }

    /// What attaching a payment method came to.
    enum Attachment {
        case attached(String)
        case refused(Answer)
    }

    /// Attaches a test card (a magic id makes a new method) or an unattached stored method.
    /// - Returns: the attached method's id, or the error answer.
    func attachCard(_ id: String, to customerID: String, in state: inout StripeSandboxState) -> Attachment {
        let now = time(of: customerID, state)
        if var stored = state.paymentMethods[id] {
            guard !stored.detached, stored.customer == nil || stored.customer == customerID else {
                return .refused(StripeError.invalid("The payment method you provided has already been attached to a customer.", param: "payment_method"))
            }
            stored.customer = customerID
            state.paymentMethods[id] = stored
            record("payment_method.attached", render(stored), at: now, in: &state)
            return .attached(id)
        }
        switch Self.testCard(id) {
        case .unknown:
            return .refused(StripeError.missing(id, param: "payment_method", kind: "PaymentMethod"))
        case .declined(let code, let decline, let message):
            return .refused(StripeError.answer(status: .paymentRequired, type: "card_error", code: code, message: message,
                                               declineCode: decline))
        case .card(let brand, let last4, let behavior):
            let method = StripeSandboxState.PaymentMethod(id: stripeID("pm_"), customer: customerID, brand: brand, last4: last4,
                                                          expMonth: 12, expYear: Calendar(identifier: .gregorian).component(.year, from: Date()) + 3,
                                                          fingerprint: "fp" + brand + last4, behavior: behavior,
                                                          created: now)
            state.paymentMethods[method.id] = method
            state.remember(method.id, kind: "payment_method")
            record("payment_method.attached", render(method), at: now, in: &state)
            return .attached(method.id)
        }
    }

    func attach(_ id: String, _ form: StripeForm) -> Answer {
        guard let customerID = form.value("customer") else { return StripeError.parameterMissing("customer") }
        return mutate { state in
            guard let customer = state.customers[customerID], !customer.deleted else { return StripeError.missing(customerID, param: "customer", kind: "customer") }
            switch attachCard(id, to: customerID, in: &state) {
            case .refused(let answer): return answer
            case .attached(let attached): return .ok(state.paymentMethods[attached].map(render) ?? [:])
            }
        }
    }

    func detach(_ id: String) -> Answer {
        mutate { state in
            guard var method = state.paymentMethods[id] else { return StripeError.missing(id, kind: "PaymentMethod") }
            guard let owner = method.customer else {
                return StripeError.invalid("The payment method \(id) is not attached to a customer so detachment is impossible.", param: "payment_method")
            }
            method.customer = nil
            method.detached = true
            state.paymentMethods[id] = method
            if state.customers[owner]?.defaultPaymentMethod == id { state.customers[owner]?.defaultPaymentMethod = nil }
            for sub in state.subscriptions.values where sub.defaultPaymentMethod == id { state.subscriptions[sub.id]?.defaultPaymentMethod = nil }
            record("payment_method.detached", render(method), at: time(of: owner, state), in: &state)
            return .ok(render(method))
        }
    }

    func paymentMethod(_ id: String) -> Answer {
        state.withLock { state in state.paymentMethods[id].map { .ok(render($0)) } ?? StripeError.missing(id, kind: "PaymentMethod") }
    }

    func listPaymentMethods(customer: String, _ form: StripeForm) -> Answer {
        state.withLock { state in
            guard state.customers[customer] != nil else { return StripeError.missing(customer, param: "customer", kind: "customer") }
            let ids = state.newestFirst("payment_method").filter { state.paymentMethods[$0]?.customer == customer }
            return page(ids, url: "/v1/customers/\(customer)/payment_methods", form: form) { state.paymentMethods[$0].map(render) }
        }
    }

    func render(_ method: StripeSandboxState.PaymentMethod) -> [String: Any] {
        [
            "id": method.id, "object": "payment_method", "type": "card", "livemode": false, "created": method.created,
            "customer": method.customer ?? NSNull(), "metadata": [String: String](),
            "billing_details": ["address": NSNull(), "email": NSNull(), "name": NSNull(), "phone": NSNull()],
            "card": ["brand": method.brand, "last4": method.last4, "exp_month": method.expMonth, "exp_year": method.expYear,
                     "funding": "credit", "country": "US", "fingerprint": method.fingerprint],
        ]
    }

    // MARK: Setup intents

    /// Creates a setup intent (`customer`, `payment_method`, `usage`); with `confirm=true` it
    /// is confirmed at once.
    func createSetupIntent(_ form: StripeForm) -> Answer {
        mutate { state in
            let customerID = form.value("customer")
            if let customerID, state.customers[customerID]?.deleted != false { return StripeError.missing(customerID, param: "customer", kind: "customer") }
            let method = form.value("payment_method")
            var intent = StripeSandboxState.SetupIntent(id: stripeID("seti_"), customer: customerID, paymentMethod: method,
                                                        status: method == nil ? "requires_payment_method" : "requires_confirmation",
                                                        usage: form.value("usage") ?? "off_session", created: customerID.map { time(of: $0, state) } ?? wallClock)
            intent.clientSecret = intent.id + "_secret_" + stripeID("")
            state.setupIntents[intent.id] = intent
            guard form.bool("confirm") == true else { return .ok(render(intent)) }
            return confirm(intent.id, paymentMethod: method, in: &state)
        }
    }

    func setupIntent(_ id: String) -> Answer {
        state.withLock { state in state.setupIntents[id].map { .ok(render($0)) } ?? StripeError.missing(id, kind: "setup_intent") }
    }

    func confirmSetupIntent(_ id: String, _ form: StripeForm) -> Answer {
        mutate { state in confirm(id, paymentMethod: form.value("payment_method"), in: &state) }
    }

    /// Saves the card to the intent's customer: `succeeded` with the attached method, or a 402
    /// carrying the intent, back at `requires_payment_method` with its `last_setup_error`.
    private func confirm(_ id: String, paymentMethod: String?, in state: inout StripeSandboxState) -> Answer {
        guard var intent = state.setupIntents[id] else { return StripeError.missing(id, kind: "setup_intent") }
        guard ["requires_payment_method", "requires_confirmation"].contains(intent.status) else {
            return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "setup_intent_unexpected_state",
                                      message: "You cannot confirm this SetupIntent because it has a status of \(intent.status).")
        }
        guard let method = paymentMethod ?? intent.paymentMethod else { return StripeError.parameterMissing("payment_method") }
        guard let customerID = intent.customer else { return StripeError.parameterMissing("customer") }
        let now = time(of: customerID, state)
        switch attachCard(method, to: customerID, in: &state) {
        case .refused(var answer):
            intent.status = "requires_payment_method"
            intent.paymentMethod = nil
            intent.lastError = (answer.body["error"] as? [String: Any]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }
            state.setupIntents[id] = intent
            if var body = answer.body["error"] as? [String: Any] {
                body["setup_intent"] = render(intent)
                answer.body["error"] = body
            }
            record("setup_intent.setup_failed", render(intent), at: now, in: &state)
            return answer
        case .attached(let attached):
            intent.paymentMethod = attached
            intent.status = "succeeded"
            intent.lastError = nil
            state.setupIntents[id] = intent
            record("setup_intent.succeeded", render(intent), at: now, in: &state)
            return .ok(render(intent))
        }
    }

    func cancelSetupIntent(_ id: String) -> Answer {
        mutate { state in
            guard var intent = state.setupIntents[id] else { return StripeError.missing(id, kind: "setup_intent") }
            guard intent.status != "succeeded" else {
                return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "setup_intent_unexpected_state",
                                          message: "You cannot cancel this SetupIntent because it has a status of succeeded.")
            }
            intent.status = "canceled"
            state.setupIntents[id] = intent
            record("setup_intent.canceled", render(intent), at: intent.customer.map { time(of: $0, state) } ?? wallClock, in: &state)
            return .ok(render(intent))
        }
    }

    func render(_ intent: StripeSandboxState.SetupIntent) -> [String: Any] {
        [
            "id": intent.id, "object": "setup_intent", "livemode": false, "created": intent.created,
            "customer": intent.customer.map { $0 as Any } ?? NSNull(), "payment_method": intent.paymentMethod.map { $0 as Any } ?? NSNull(),
            "status": intent.status, "usage": intent.usage, "payment_method_types": ["card"], "client_secret": intent.clientSecret,
            "last_setup_error": intent.lastError.flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? NSNull(),
        ]
    }

    // MARK: Products and prices

    func createProduct(_ form: StripeForm) -> Answer {
        guard let name = form.value("name") else { return StripeError.parameterMissing("name") }
        return mutate { state in
            let id = form.value("id") ?? stripeID("prod_")
            guard state.products[id] == nil else {
                return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "resource_already_exists",
                                          message: "Product already exists.", param: "id")
            }
            let product = StripeSandboxState.Product(id: id, name: name, metadata: form.hash("metadata"), created: wallClock)
            state.products[id] = product
            state.remember(id, kind: "product")
            return .ok(render(product))
        }
    }

    func product(_ id: String) -> Answer {
        state.withLock { state in state.products[id].map { .ok(render($0)) } ?? StripeError.missing(id, kind: "product") }
    }

    func render(_ product: StripeSandboxState.Product) -> [String: Any] {
        ["id": product.id, "object": "product", "name": product.name, "active": true, "livemode": false, "created": product.created,
         "metadata": product.metadata]
    }

    func createPrice(_ form: StripeForm) -> Answer {
        guard let currency = form.value("currency")?.lowercased() else { return StripeError.parameterMissing("currency") }
        guard let amount = form.integer("unit_amount") else { return StripeError.parameterMissing("unit_amount") }
        guard (0...99_999_999).contains(amount) else {
            return StripeError.invalid("unit_amount must be between 0 and 99999999 (in the currency's smallest unit)", param: "unit_amount")
        }
        let interval = form.value("recurring[interval]") ?? "month"
        guard ["day", "week", "month", "year"].contains(interval) else {
            return StripeError.invalid("Invalid recurring[interval]: must be one of day, week, month, or year", param: "recurring[interval]")
        }
        let count = form.integer("recurring[interval_count]") ?? 1
        guard (1...12).contains(count) else { return StripeError.invalid("Invalid recurring[interval_count]", param: "recurring[interval_count]") }
        return mutate { state in
            let productID: String
            if let given = form.value("product") {
                guard state.products[given] != nil else { return StripeError.missing(given, param: "product", kind: "product") }
                productID = given
            } else if let name = form.value("product_data[name]") {
                let product = StripeSandboxState.Product(id: stripeID("prod_"), name: name, metadata: [:], created: wallClock)
                state.products[product.id] = product
                state.remember(product.id, kind: "product")
                productID = product.id
            } else {
                return StripeError.parameterMissing("product")
            }
            if let key = form.value("lookup_key"), let holder = state.prices.values.first(where: { $0.lookupKey == key }) {
                guard form.bool("transfer_lookup_key") == true else {
                    return StripeError.invalid("A price (`\(holder.id)`) already uses that lookup key.", param: "lookup_key")
                }
                state.prices[holder.id]?.lookupKey = nil
            }
            let price = StripeSandboxState.Price(id: stripeID("price_"), product: productID, unitAmount: amount, currency: currency,
                                                 interval: interval, intervalCount: count, lookupKey: form.value("lookup_key"),
                                                 nickname: form.value("nickname"), active: form.bool("active") ?? true,
                                                 metadata: form.hash("metadata"), created: wallClock)
            state.prices[price.id] = price
            state.remember(price.id, kind: "price")
            return .ok(render(price, state))
        }
    }

    func price(_ id: String) -> Answer {
        state.withLock { state in state.prices[id].map { .ok(render($0, state)) } ?? StripeError.missing(id, kind: "price") }
    }

    /// `lookup_keys[]`, `active`, `product`; `expand[]=data.product` expands the product.
    func listPrices(_ form: StripeForm) -> Answer {
        state.withLock { state in
            let keys = Set(form.list("lookup_keys"))
            let active = form.bool("active")
            let product = form.value("product")
            let ids = state.newestFirst("price").filter { id in
                guard let price = state.prices[id] else { return false }
                return (keys.isEmpty || price.lookupKey.map(keys.contains) == true) && (active == nil || price.active == active)
                    && (product == nil || price.product == product)
            }
            let expandProduct = form.list("expand").contains("data.product")
            return page(ids, url: "/v1/prices", form: form) { id in
                guard let price = state.prices[id] else { return nil }
                var object = render(price, state)
                if expandProduct, let product = state.products[price.product] { object["product"] = render(product) }
                return object
            }
        }
    }

    func render(_ price: StripeSandboxState.Price, _ state: StripeSandboxState) -> [String: Any] {
        [
            "id": price.id, "object": "price", "active": price.active, "livemode": false, "created": price.created,
            "currency": price.currency, "unit_amount": price.unitAmount, "unit_amount_decimal": String(price.unitAmount),
            "product": price.product, "lookup_key": price.lookupKey ?? NSNull(), "nickname": price.nickname ?? NSNull(),
            "metadata": price.metadata, "type": "recurring", "billing_scheme": "per_unit",
            "recurring": ["interval": price.interval, "interval_count": price.intervalCount, "usage_type": "licensed",
                          "meter": NSNull(), "trial_period_days": NSNull()],
        ]
    }

    // MARK: Events

    /// Records an event for delivery (a snapshot of the object as it is now).
    func record(_ type: String, _ object: [String: Any], previous: [String: Any]? = nil, at time: Int, in state: inout StripeSandboxState) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        let old = previous.flatMap { try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        let event = StripeSandboxState.Event(id: stripeID("evt_"), type: type, created: time, object: data, previous: old,
                                             delivered: configuration.webhookURL == nil, nextAttempt: configuration.now())
        state.events.append(event)
        state.remember(event.id, kind: "event")
    }

    func render(_ event: StripeSandboxState.Event) -> [String: Any] {
        var data: [String: Any] = ["object": (try? JSONSerialization.jsonObject(with: event.object)) ?? [:]]
        if let previous = event.previous, let old = try? JSONSerialization.jsonObject(with: previous) { data["previous_attributes"] = old }
        return ["id": event.id, "object": "event", "api_version": configuration.apiVersion, "created": event.created, "type": event.type,
                "livemode": false, "pending_webhooks": event.delivered ? 0 : 1,
                "request": ["id": NSNull(), "idempotency_key": NSNull()], "data": data]
    }

    func event(_ id: String) -> Answer {
        state.withLock { state in state.events.first { $0.id == id }.map { .ok(render($0)) } ?? StripeError.missing(id, kind: "event") }
    }

    /// `type` or `types[]`.
    func listEvents(_ form: StripeForm) -> Answer {
        state.withLock { state in
            var types = Set(form.list("types"))
            if let type = form.value("type") { types.insert(type) }
            let byID = Dictionary(state.events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let ids = state.newestFirst("event").filter { types.isEmpty || byID[$0].map { types.contains($0.type) } == true }
            return page(ids, url: "/v1/events", form: form) { byID[$0].map(render) }
        }
    }

    // MARK: Test clocks

    /// Unix seconds up to the year 9999.
    static let timestamps = 0...253_402_300_799

    func createClock(_ form: StripeForm) -> Answer {
        guard let frozen = form.integer("frozen_time") else { return StripeError.parameterMissing("frozen_time") }
        guard Self.timestamps.contains(frozen) else { return StripeError.invalid("Invalid timestamp", param: "frozen_time") }
        return mutate { state in
            let clock = StripeSandboxState.TestClock(id: stripeID("clock_"), name: form.value("name"), frozenTime: frozen, status: "ready",
                                                     created: wallClock)
            state.clocks[clock.id] = clock
            state.remember(clock.id, kind: "test_clock")
            return .ok(render(clock))
        }
    }

    func clock(_ id: String) -> Answer {
        state.withLock { state in state.clocks[id].map { .ok(render($0)) } ?? StripeError.missing(id, kind: "test_clock") }
    }

    func listClocks(_ form: StripeForm) -> Answer {
        state.withLock { state in
            page(state.newestFirst("test_clock").filter { state.clocks[$0] != nil }, url: "/v1/test_helpers/test_clocks", form: form) {
                state.clocks[$0].map(render)
            }
        }
    }

    /// Moves a clock forward: every renewal, payment retry and cancellation of its customers'
    /// subscriptions in the span happens, in time order, with its events. Answers as Stripe
    /// does (`advancing`); the clock is `ready` by the time anyone asks again.
    func advance(_ id: String, _ form: StripeForm) -> Answer {
        guard let target = form.integer("frozen_time") else { return StripeError.parameterMissing("frozen_time") }
        guard Self.timestamps.contains(target) else { return StripeError.invalid("Invalid timestamp", param: "frozen_time") }
        return mutate { state in
            guard var clock = state.clocks[id] else { return StripeError.missing(id, kind: "test_clock") }
            guard target > clock.frozenTime else {
                return StripeError.invalid("The frozen_time must be after the test clock's current frozen_time.", param: "frozen_time")
            }
            let customers = Set(state.customers.values.filter { $0.testClock == id }.map(\.id))
            runDue(customers: customers, until: target, in: &state)
            clock.frozenTime = target
            clock.status = "ready"
            state.clocks[id] = clock
            record("test_helpers.test_clock.ready", render(clock), at: target, in: &state)
            var answer = render(clock)
            answer["status"] = "advancing"
            answer["status_details"] = ["advancing": ["target_frozen_time": target]]
            return .ok(answer)
        }
    }

    func deleteClock(_ id: String) -> Answer {
        mutate { state in
            guard state.clocks[id] != nil else { return StripeError.missing(id, kind: "test_clock") }
            state.clocks[id] = nil
            for customer in state.customers.values where customer.testClock == id { state.customers[customer.id]?.deleted = true }
            return .ok(["id": id, "object": "test_helpers.test_clock", "deleted": true])
        }
    }

    func render(_ clock: StripeSandboxState.TestClock) -> [String: Any] {
        ["id": clock.id, "object": "test_helpers.test_clock", "livemode": false, "created": clock.created, "frozen_time": clock.frozenTime,
         "name": clock.name ?? NSNull(), "status": clock.status, "deletes_after": clock.created + 30 * 86_400, "status_details": [String: Any]()]
    }
}
