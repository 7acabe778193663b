import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1

/// Stripe's API as the product uses it, over async-http-client: form-encoded bodies with
/// bracketed keys, `Stripe-Version` pinned, an `Idempotency-Key` on every POST (the caller's,
/// derived from our own row ids, so a retried job never charges twice), Stripe's error objects
/// mapped to `StripeError`, and the retries Stripe's own libraries make: connection errors,
/// 409, 429 and 5xx (unless `Stripe-Should-Retry: false`), with backoff, under the same key.
public struct StripeClient: Sendable {
    /// `https://api.stripe.com`, or the sandbox's base URL.
    public var baseURL: String
    public var secretKey: String
    public var apiVersion: String
    public var maximumRetries: Int
    public var timeout: Duration
    let http: HTTPClient

    public static let pinnedVersion = "2025-03-31.basil"

    public init(baseURL: String, secretKey: String, apiVersion: String = StripeClient.pinnedVersion, maximumRetries: Int = 2,
                timeout: Duration = .seconds(30), http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.secretKey = secretKey
        self.apiVersion = apiVersion
        self.maximumRetries = maximumRetries
        self.timeout = timeout
        self.http = http
    }

    // MARK: Customers and payment methods

    public func createCustomer(email: String, name: String?, metadata: [String: String], testClock: String? = nil,
                               idempotencyKey: String) async throws -> StripeCustomer {
        var form = StripeFormBody()
        form["email"] = email
        form["name"] = name
        form["test_clock"] = testClock
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form["metadata[\(key)]"] = value }
        return try await post("/v1/customers", form, key: idempotencyKey)
    }

    public func customer(_ id: String) async throws -> StripeCustomer { try await get("/v1/customers/\(Self.segment(id))") }

    /// Attaches a payment method made by Stripe.js (or a test method id) to a customer.
    public func attach(paymentMethod id: String, customer: String, idempotencyKey: String) async throws -> StripePaymentMethod {
        var form = StripeFormBody()
        form["customer"] = customer
        return try await post("/v1/payment_methods/\(Self.segment(id))/attach", form, key: idempotencyKey)
    }

    public func detach(paymentMethod id: String, idempotencyKey: String) async throws -> StripePaymentMethod {
        try await post("/v1/payment_methods/\(Self.segment(id))/detach", StripeFormBody(), key: idempotencyKey)
    }

    /// The customer's cards, newest first (up to 100).
    public func paymentMethods(customer: String) async throws -> [StripePaymentMethod] {
        let list: StripeList<StripePaymentMethod> = try await get("/v1/customers/\(Self.segment(customer))/payment_methods",
                                                                  query: [("type", "card"), ("limit", "100")])
        return list.data
    }

    /// Makes `paymentMethod` the customer's default for subscription invoices.
    public func setDefault(paymentMethod: String, customer: String, idempotencyKey: String) async throws -> StripeCustomer {
        var form = StripeFormBody()
        form["invoice_settings[default_payment_method]"] = paymentMethod
        return try await post("/v1/customers/\(Self.segment(customer))", form, key: idempotencyKey)
    }

    /// Saves a card for off-session renewals: a setup intent confirmed at once. A declined
    /// card throws `StripeError` (402) naming the intent, which stays unconfirmed.
    public func saveCard(paymentMethod: String, customer: String, idempotencyKey: String) async throws -> StripeSetupIntent {
        var form = StripeFormBody()
        form["customer"] = customer
        form["payment_method"] = paymentMethod
        form["usage"] = "off_session"
        form["confirm"] = "true"
        return try await post("/v1/setup_intents", form, key: idempotencyKey)
    }

    public func setupIntent(_ id: String) async throws -> StripeSetupIntent { try await get("/v1/setup_intents/\(Self.segment(id))") }

    // MARK: Products and prices

    public func createProduct(id: String, name: String, idempotencyKey: String) async throws -> StripeProduct {
        var form = StripeFormBody()
        form["id"] = id
        form["name"] = name
        return try await post("/v1/products", form, key: idempotencyKey)
    }

    public func createPrice(product: String, unitAmount: Int, currency: String, interval: String, lookupKey: String,
                            idempotencyKey: String) async throws -> StripePrice {
        var form = StripeFormBody()
        form["product"] = product
        form["unit_amount"] = String(unitAmount)
        form["currency"] = currency
        form["recurring[interval]"] = interval
        form["lookup_key"] = lookupKey
        form["transfer_lookup_key"] = "true"
        return try await post("/v1/prices", form, key: idempotencyKey)
    }

    /// Active prices by lookup key.
    public func prices(lookupKeys: [String]) async throws -> [StripePrice] {
        var query = [("active", "true"), ("limit", "100")]
        for (index, key) in lookupKeys.enumerated() { query.append(("lookup_keys[\(index)]", key)) }
        let list: StripeList<StripePrice> = try await get("/v1/prices", query: query)
        return list.data
    }

    // MARK: Subscriptions

    /// Subscribes a customer to a price, charging the first invoice now; a declined card
    /// throws `StripeError` (402, `card_error`) and creates nothing (`error_if_incomplete`).
    public func createSubscription(customer: String, price: String, paymentMethod: String?, metadata: [String: String],
                                   idempotencyKey: String) async throws -> StripeSubscription {
        var form = StripeFormBody()
        form["customer"] = customer
        form["items[0][price]"] = price
        form["items[0][quantity]"] = "1"
        form["default_payment_method"] = paymentMethod
        form["payment_behavior"] = "error_if_incomplete"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form["metadata[\(key)]"] = value }
        return try await post("/v1/subscriptions", form, key: idempotencyKey)
    }

    public func subscription(_ id: String) async throws -> StripeSubscription { try await get("/v1/subscriptions/\(Self.segment(id))") }

    /// The customer's subscriptions that have not been canceled, newest first (up to 100).
    public func subscriptions(customer: String) async throws -> [StripeSubscription] {
        let list: StripeList<StripeSubscription> = try await get("/v1/subscriptions", query: [("customer", customer), ("limit", "100")])
        return list.data
    }

    /// How a plan change is billed.
    public enum Proration: String, Sendable {
        /// Invoiced and charged now (an upgrade).
        case alwaysInvoice = "always_invoice"
        /// Swept into the next invoice.
        case createProrations = "create_prorations"
        /// Not prorated (a downgrade applied at the period's end).
        case none
    }

    /// Moves the subscription's item to another price; with `.alwaysInvoice` a declined
    /// proration charge throws and changes nothing.
    public func changePrice(subscription: String, item: String, price: String, proration: Proration, metadata: [String: String] = [:],
                            idempotencyKey: String) async throws -> StripeSubscription {
        var form = StripeFormBody()
        form["items[0][id]"] = item
        form["items[0][price]"] = price
        form["proration_behavior"] = proration.rawValue
        form["payment_behavior"] = "error_if_incomplete"
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form["metadata[\(key)]"] = value }
        return try await post("/v1/subscriptions/\(Self.segment(subscription))", form, key: idempotencyKey)
    }

    /// Cancels at the period's end (or takes that back).
    public func setCancelAtPeriodEnd(subscription: String, _ cancel: Bool, idempotencyKey: String) async throws -> StripeSubscription {
        var form = StripeFormBody()
        form["cancel_at_period_end"] = cancel ? "true" : "false"
        return try await post("/v1/subscriptions/\(Self.segment(subscription))", form, key: idempotencyKey)
    }

    /// Cancels now.
    public func cancel(subscription: String) async throws -> StripeSubscription {
        try await send(.DELETE, "/v1/subscriptions/\(Self.segment(subscription))", query: [], body: nil, key: nil)
    }

    // MARK: Invoices

    /// A page of the customer's invoices, newest first.
    public func invoices(customer: String, limit: Int = 10, startingAfter: String? = nil) async throws -> StripeList<StripeInvoice> {
        var query = [("customer", customer), ("limit", String(max(1, min(100, limit))))]
        if let startingAfter { query.append(("starting_after", startingAfter)) }
        return try await get("/v1/invoices", query: query)
    }

    public func invoice(_ id: String) async throws -> StripeInvoice { try await get("/v1/invoices/\(Self.segment(id))") }

    /// Pays an open invoice now (after the user fixed their card while past due).
    public func pay(invoice id: String, paymentMethod: String?, idempotencyKey: String) async throws -> StripeInvoice {
        var form = StripeFormBody()
        form["payment_method"] = paymentMethod
        return try await post("/v1/invoices/\(Self.segment(id))/pay", form, key: idempotencyKey)
    }

    // MARK: Events

    /// One event as Stripe holds it now (to check a webhook's claim, or to catch up).
    public func event(_ id: String) async throws -> StripeEvent { try await get("/v1/events/\(Self.segment(id))") }

    /// Recent events of the given types, newest first.
    public func events(types: [String], limit: Int = 100, startingAfter: String? = nil) async throws -> StripeList<StripeEvent> {
        var query = [("limit", String(max(1, min(100, limit))))]
        for (index, type) in types.enumerated() { query.append(("types[\(index)]", type)) }
        if let startingAfter { query.append(("starting_after", startingAfter)) }
        return try await get("/v1/events", query: query)
    }

    /// Recent events as Stripe would deliver them (each event object's JSON, oldest first),
    /// to replay what a webhook endpoint missed.
    public func eventBodies(limit: Int = 100) async throws -> [(id: String, body: Data)] {
        let raw = try await sendData(.GET, "/v1/events", query: [("limit", String(max(1, min(100, limit))))], body: nil, key: nil)
        let object = try JSONSerialization.jsonObject(with: raw) as? [String: Any]
        let events = object?["data"] as? [[String: Any]] ?? []
        return try events.reversed().compactMap { event in
            guard let id = event["id"] as? String else { return nil }
            return (id, try JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]))
        }
    }

    // MARK: Test clocks (test mode)

    public func createTestClock(frozenTime: Date, name: String? = nil, idempotencyKey: String? = nil) async throws -> StripeTestClock {
        var form = StripeFormBody()
        form["frozen_time"] = String(Int(frozenTime.timeIntervalSince1970))
        form["name"] = name
        return try await post("/v1/test_helpers/test_clocks", form, key: idempotencyKey ?? UUID().uuidString)
    }

    public func advance(testClock id: String, to time: Date) async throws -> StripeTestClock {
        var form = StripeFormBody()
        form["frozen_time"] = String(Int(time.timeIntervalSince1970))
        return try await post("/v1/test_helpers/test_clocks/\(Self.segment(id))/advance", form, key: UUID().uuidString)
    }

    public func testClock(_ id: String) async throws -> StripeTestClock { try await get("/v1/test_helpers/test_clocks/\(Self.segment(id))") }

    // MARK: Transport

    func get<T: Decodable>(_ path: String, query: [(String, String)] = []) async throws -> T {
        try await send(.GET, path, query: query, body: nil, key: nil)
    }

    func post<T: Decodable>(_ path: String, _ form: StripeFormBody, key: String) async throws -> T {
        try await send(.POST, path, query: [], body: form.encoded, key: key)
    }

    /// One call, its answer decoded.
    func send<T: Decodable>(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: String?, key: String?) async throws -> T {
        let data = try await sendData(method, path, query: query, body: body, key: key)
        do { return try Self.decoder.decode(T.self, from: data) } catch {
            throw StripeError(status: 200, type: "api_error", code: nil, declineCode: nil,
                              message: "Stripe's answer to \(path) could not be read: \(error)", param: nil)
        }
    }

    /// One call, retried as Stripe's libraries retry it, under the same idempotency key.
    /// - Returns: the body of a 2xx answer.
    func sendData(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: String?, key: String?) async throws -> Data {
        var url = baseURL + path
        if !query.isEmpty { url += "?" + StripeFormBody(query).encoded }
        var attempt = 0
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
            request.headers.add(name: "Stripe-Version", value: apiVersion)
            request.headers.add(name: "User-Agent", value: "ytempire")
            if let key { request.headers.add(name: "Idempotency-Key", value: key) }
            if let body {
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: body))
            }
            let status: Int
            let data: Data
            let shouldRetry: String?
            do {
                let response = try await http.execute(request, timeout: .milliseconds(Int64(min(3_600, max(0.001, timeout.seconds)) * 1000)))
                status = Int(response.status.code)
                shouldRetry = response.headers.first(name: "Stripe-Should-Retry")
                data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
            } catch where attempt < maximumRetries && !(error is CancellationError) && (error as? HTTPClientError) != .cancelled {
                // A connection that failed or dropped: the same key makes the retry safe.
                attempt += 1
                try await Task.sleep(for: Self.backoff(attempt))
                continue
            }
            if (200..<300).contains(status) { return data }
            let error = StripeError(status: status, body: data)
            let retryable = shouldRetry == "true" || (shouldRetry != "false" && (status == 409 || status == 429 || status >= 500))
            guard retryable, attempt < maximumRetries else { throw error }
            attempt += 1
            try await Task.sleep(for: Self.backoff(attempt))
        }
    }

    /// 0.5 s doubling to 5 s, with jitter (as stripe-python).
    static func backoff(_ attempt: Int) -> Duration {
        let base = min(5.0, 0.5 * pow(2.0, Double(attempt - 1)))
        return .milliseconds(Int(base * Double.random(in: 0.75...1.0) * 1000))
    }

    /// An id as one path segment: anything outside Stripe's id alphabet is percent-encoded.
    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: StripeFormBody.unreserved) ?? ""
    }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

/// Form fields in order, `application/x-www-form-urlencoded` with brackets escaped as Stripe
/// expects (`items%5B0%5D%5Bprice%5D=price_…`). Setting nil leaves a field out.
struct StripeFormBody {
    private(set) var fields: [(String, String)] = []

    init(_ fields: [(String, String)] = []) { self.fields = fields }

    subscript(key: String) -> String? {
        get { fields.first { $0.0 == key }?.1 }
        set {
            fields.removeAll { $0.0 == key }
            if let newValue { fields.append((key, newValue)) }
        }
    }

    /// RFC 3986's unreserved characters, ASCII only (`CharacterSet.alphanumerics` would let
    /// non-ASCII letters through unescaped).
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    var encoded: String {
        let allowed = Self.unreserved
        return fields.map { key, value in
            (key.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }
}

/// Stripe's error object (`{"error": {type, code, decline_code, message, param}}`) and the
/// HTTP status it came with.
public struct StripeError: Error, CustomStringConvertible, Sendable {
    public var status: Int
    /// `card_error`, `invalid_request_error`, `idempotency_error`, `api_error`.
    public var type: String
    public var code: String?
    public var declineCode: String?
    public var message: String
    public var param: String?

    public init(status: Int, type: String, code: String?, declineCode: String?, message: String, param: String?) {
        (self.status, self.type, self.code, self.declineCode, self.message, self.param) = (status, type, code, declineCode, message, param)
    }

    init(status: Int, body: Data) {
        struct Envelope: Decodable {
            struct Inner: Decodable {
                var type: String?
                var code: String?
                var declineCode: String?
                var message: String?
                var param: String?
            }
            var error: Inner
        }
        let inner = (try? StripeClient.decoder.decode(Envelope.self, from: body))?.error
        self.init(status: status, type: inner?.type ?? "api_error", code: inner?.code, declineCode: inner?.declineCode,
                  message: inner?.message ?? "Stripe answered \(status)", param: inner?.param)
    }

    /// The card was declined (402 `card_error`): the customer can fix it, nothing was charged.
    public var isCardError: Bool { type == "card_error" }

    public var description: String {
        "Stripe \(status) \(type)" + (code.map { " \($0)" } ?? "") + (declineCode.map { " (\($0))" } ?? "") + ": \(message)"
    }
}

// MARK: Objects

/// A page of a Stripe list.
public struct StripeList<Element: Decodable & Sendable>: Decodable, Sendable {
    public var data: [Element]
    public var hasMore: Bool
}

public struct StripeCustomer: Decodable, Sendable {
    public struct InvoiceSettings: Decodable, Sendable {
        public var defaultPaymentMethod: String?
    }

    public var id: String
    public var email: String?
    public var name: String?
    public var delinquent: Bool?
    public var invoiceSettings: InvoiceSettings?
    public var testClock: String?
}

public struct StripePaymentMethod: Decodable, Sendable {
    public struct Card: Decodable, Sendable {
        public var brand: String
        public var last4: String
        public var expMonth: Int
        public var expYear: Int
    }

    public var id: String
    public var customer: String?
    public var card: Card?
}

public struct StripeSetupIntent: Decodable, Sendable {
    public var id: String
    public var customer: String?
    public var paymentMethod: String?
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`, `succeeded`, `canceled`.
    public var status: String
}

/// An event's envelope; `data.object` stays raw JSON for the handler of its type to decode.
public struct StripeEvent: Decodable, Sendable {
    public var id: String
    public var type: String
    public var created: Int
}

public struct StripeProduct: Decodable, Sendable {
    public var id: String
    public var name: String
}

public struct StripePrice: Decodable, Sendable {
    public struct Recurring: Decodable, Sendable {
        public var interval: String
        public var intervalCount: Int
    }

    public var id: String
    public var product: String?
    public var unitAmount: Int?
    public var currency: String
    public var lookupKey: String?
    public var recurring: Recurring?
}

public struct StripeSubscription: Decodable, Sendable {
    public struct Item: Decodable, Sendable {
        public var id: String
        public var price: StripePrice
        public var quantity: Int?
        /// Basil and later keep the billing period on the item.
        public var currentPeriodStart: Int
        public var currentPeriodEnd: Int
    }

    public var id: String
    public var customer: String
    /// `incomplete`, `incomplete_expired`, `trialing`, `active`, `past_due`, `unpaid`, `canceled`, `paused`.
    public var status: String
    public var items: StripeList<Item>
    public var cancelAtPeriodEnd: Bool
    public var canceledAt: Int?
    public var endedAt: Int?
    public var defaultPaymentMethod: String?
    public var latestInvoice: String?
    public var created: Int
    public var metadata: [String: String]?

    public var item: Item? { items.data.first }
}

public struct StripeInvoice: Decodable, Sendable {
    public struct Line: Decodable, Sendable {
        public struct Period: Decodable, Sendable {
            public var start: Int
            public var end: Int
        }

        public struct Parent: Decodable, Sendable {
            public struct ItemDetails: Decodable, Sendable { public var proration: Bool }
            public var subscriptionItemDetails: ItemDetails?
        }

        public var id: String
        public var amount: Int
        public var currency: String
        public var description: String?
        public var period: Period
        public var parent: Parent?

        public var isProration: Bool { parent?.subscriptionItemDetails?.proration ?? false }
    }

    public struct Parent: Decodable, Sendable {
        public struct SubscriptionDetails: Decodable, Sendable { public var subscription: String? }
        public var subscriptionDetails: SubscriptionDetails?
    }

    public var id: String
    public var number: String?
    public var customer: String
    public var status: String?
    public var billingReason: String?
    public var currency: String
    public var total: Int
    public var amountDue: Int
    public var amountPaid: Int
    public var attemptCount: Int
    public var nextPaymentAttempt: Int?
    public var created: Int
    public var periodStart: Int
    public var periodEnd: Int
    public var hostedInvoiceUrl: String?
    public var invoicePdf: String?
    public var lines: StripeList<Line>
    public var parent: Parent?

    public var subscription: String? { parent?.subscriptionDetails?.subscription }
}

public struct StripeTestClock: Decodable, Sendable {
    public var id: String
    public var frozenTime: Int
    public var status: String
}

extension StripeSubscription {
    /// The subscription in our terms; nil when its price names no tier of ours (by lookup
    /// key, or by product once a newer price took the key over).
    public var facts: SubscriptionFacts? {
        guard let item, let tier = SubscriptionFacts.tier(lookupKey: item.price.lookupKey) ?? SubscriptionFacts.tier(product: item.price.product)
        else { return nil }
        let heldUntil = metadata?[SubscriptionFacts.heldUntilKey].flatMap { Int($0) }.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return SubscriptionFacts(stripeSubscriptionID: id, status: status, tier: tier,
                                 periodStart: Date(timeIntervalSince1970: TimeInterval(item.currentPeriodStart)),
                                 periodEnd: Date(timeIntervalSince1970: TimeInterval(item.currentPeriodEnd)),
                                 cancelAtPeriodEnd: cancelAtPeriodEnd,
                                 heldTier: metadata?[SubscriptionFacts.heldTierKey].flatMap { $0.isEmpty ? nil : $0 }, heldUntil: heldUntil)
    }
}
