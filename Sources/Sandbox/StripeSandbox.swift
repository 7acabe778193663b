import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local Stripe: the subset of the API a subscription business uses (customers, payment
/// methods with Stripe's test cards, setup intents, products and prices, subscriptions with
/// proration and cancellation, invoices, events, test clocks), with Stripe's form-encoded
/// requests, error objects, idempotency keys and list pagination, renewals and dunning on the
/// subscription's clock, and signed webhooks (`Stripe-Signature`) delivered with retries.
/// Shapes follow API version 2025-03-31.basil and later (billing periods on subscription items,
/// `invoice.parent`, line `parent`/`pricing`). Its state survives a restart when given a file.
public final class StripeSandbox: Sendable {
    public struct Configuration: Sendable {
        /// The secret key callers must present (Bearer or HTTP Basic).
        public var secretKey = "sk_test_sandbox"
        /// Where events are POSTed; nil sends none.
        public var webhookURL: String?
        /// The endpoint's signing secret (`whsec_…`).
        public var webhookSecret = "whsec_sandbox"
        public var apiVersion = "2025-03-31.basil"
        /// A JSON file the state is kept in; nil keeps it in memory only.
        public var stateFile: URL?
        /// Days after a failed renewal at which it is tried again; after the last, the
        /// subscription is canceled and the invoice marked uncollectible.
        public var retryDays = [3, 5, 7]
        /// Waits before a failed webhook delivery is tried again (three retries, as a sandbox).
        public var webhookRetryDelays: [Duration] = [.seconds(1), .seconds(5), .seconds(30)]
        /// The clock of customers without a test clock.
        public var now: @Sendable () -> Date = { Date() }

        public init() {}
    }

    public let configuration: Configuration
    let state: Mutex<StripeSandboxState>
    let logger: Logger

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "stripe-sandbox")) {
        self.configuration = configuration
        self.logger = logger
        var initial = StripeSandboxState()
        if let file = configuration.stateFile, let data = try? Data(contentsOf: file) {
            do { initial = try JSONDecoder().decode(StripeSandboxState.self, from: data) } catch {
                logger.warning("the Stripe sandbox's state file is unreadable; starting empty", metadata: ["error": "\(error)"])
            }
        }
        state = Mutex(initial)
    }

    /// Real time, in Unix seconds.
    var wallClock: Int { Int(configuration.now().timeIntervalSince1970) }

    /// Runs `body` on the state and saves the state after it when it is kept in a file (under
    /// the lock, so a slower writer can never leave an older state on disk).
    func mutate<T>(_ body: (inout StripeSandboxState) throws -> T) rethrows -> T {
        try state.withLock { state -> T in
            let result = try body(&state)
            save(state)
            return result
        }
    }

    /// Runs `body`, saving the state only when it says it changed something.
    func mutateIfChanged(_ body: (inout StripeSandboxState) -> Bool) {
        state.withLock { state in
            if body(&state) { save(state) }
        }
    }

    private func save(_ state: StripeSandboxState) {
        guard let file = configuration.stateFile else { return }
        do { try JSONEncoder().encode(state).write(to: file, options: .atomic) } catch {
            logger.error("the Stripe sandbox could not save its state", metadata: ["file": "\(file.path)", "error": "\(error)"])
        }
    }

    // MARK: Serving

    /// The routes: everything under `/v1/`.
    public func router() -> Router<SandboxContext> {
        let router = Router(context: SandboxContext.self)
        for method in [HTTPRequest.Method.get, .post, .delete] {
            router.on("/v1/**", method: method) { request, _ in try await self.respond(to: request) }
        }
        return router
    }

    /// The sandbox's services: the server on `host:port`, and its renewal clock and webhook
    /// delivery beside it; both stop on graceful shutdown.
    public func services(host: String = "127.0.0.1", port: Int, logger: Logger,
                         onReady: @escaping @Sendable (Int) async -> Void = { _ in }) -> [any Service] {
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "stripe-sandbox"),
                              onServerRunning: { channel in await onReady(channel.localAddress?.port ?? port) }, logger: logger)
        return [app, Background(sandbox: self)]
    }

    /// The sandbox on `host:port` until cancelled.
    public func run(host: String = "127.0.0.1", port: Int, logger: Logger,
                    onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await ServiceGroup(configuration: .init(services: services(host: host, port: port, logger: logger, onReady: onReady),
                                                    logger: logger)).run()
    }

    /// Renewals due in real time and webhook deliveries, until graceful shutdown.
    struct Background: Service {
        let sandbox: StripeSandbox
        func run() async throws { await sandbox.backgroundLoop() }
    }

    /// Runs the sandbox on a free loopback port while `body` runs; `body` gets its base URL.
    public func withRunning<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let quiet = Logger(label: "stripe-sandbox", factory: { _ in SwiftLogNoOpLogHandler() })
        return try await withLoopbackPort({ onReady in self.services(port: 0, logger: quiet, onReady: onReady) }, body)
    }

    /// Every quarter second: renewals due in real time, then webhook deliveries due.
    func backgroundLoop() async {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            mutateIfChanged { state in
                let customers = Set(state.customers.values.filter { $0.testClock == nil }.map(\.id))
                return runDue(customers: customers, until: wallClock, in: &state) > 0
            }
            await deliverDueEvents(with: http)
            try? await Task.sleep(for: .milliseconds(250))
        }
        try? await http.shutdown()
    }

    // MARK: Requests

    func respond(to request: Request) async throws -> Response {
        guard authorized(request) else {
            return StripeError.invalidRequest(status: .unauthorized, code: nil,
                                              message: "Invalid API Key provided: \(String(request.bearerToken?.prefix(12) ?? "none"))***")
        }
        let body = request.method == .post ? String(buffer: try await request.body.collect(upTo: 1 << 20)) : ""
        let form = StripeForm(request.method == .post ? body : (request.uri.query ?? ""))
        let path = request.uri.path.split(separator: "/").map(String.init)
        let key = request.method == .post ? request.headers[.idempotencyKey] : nil
        guard let key else { return route(request.method, path, form).response }
        guard key.count <= 255 else {
            return StripeError.invalidRequest(status: .badRequest, code: "idempotency_key_too_long",
                                              message: "Idempotency keys are at most 255 characters long.")
        }
        // The key is taken before the request runs: a second request under it meanwhile is a
        // 409, as Stripe answers, never a second run.
        let fingerprint = SHA256.hash(data: Data("\(request.method.rawValue) \(request.uri.path) \(body)".utf8))
            .map { String(format: "%02x", $0) }.joined()
        let now = configuration.now()
        let stored = state.withLock { state -> StripeSandboxState.StoredAnswer? in
            state.idempotency = state.idempotency.filter { now.timeIntervalSince($0.value.stored) < 86_400 }
            if let stored = state.idempotency[key] { return stored }
            state.idempotency[key] = .init(fingerprint: fingerprint, status: 0, body: Data(), stored: now)
            return nil
        }
        if let stored {
            guard stored.fingerprint == fingerprint else {
                return StripeError.response(status: .badRequest, type: "idempotency_error", code: nil,
                                            message: "Keys for idempotent requests can only be used with the same parameters they were first used with.")
            }
            guard stored.status != 0 else {
                return StripeError.response(status: .conflict, type: "invalid_request_error", code: "idempotency_key_in_use",
                                            message: "There is currently another in-progress request using this Idempotent Key. Try again later.")
            }
            var replay = Response(status: .init(code: stored.status), headers: [.contentType: "application/json"],
                                  body: .init(byteBuffer: ByteBuffer(bytes: stored.body)))
            replay.headers[.idempotentReplayed] = "true"
            return replay
        }
        let answer = route(request.method, path, form)
        let data = (try? JSONSerialization.data(withJSONObject: answer.body, options: [.sortedKeys])) ?? Data()
        mutate { state in
            // Parameter errors are not stored: the request may be sent again, fixed.
            if answer.status.code == 400 {
                state.idempotency[key] = nil
            } else {
                state.idempotency[key] = .init(fingerprint: fingerprint, status: answer.status.code, body: data, stored: now)
            }
        }
        return answer.response
    }

    private func authorized(_ request: Request) -> Bool {
        guard let value = request.headers[.authorization] else { return false }
        if let token = request.bearerToken { return token == configuration.secretKey }
        guard value.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces)) else { return false }
        return String(decoding: decoded, as: UTF8.self).split(separator: ":", omittingEmptySubsequences: false).first
            .map(String.init) == configuration.secretKey
    }

    /// One answer: a status and a JSON object.
    struct Answer {
        var status: HTTPResponse.Status
        var body: [String: Any]

        var response: Response {
            let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[.requestID] = stripeID("req_")
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }

        static func ok(_ body: [String: Any]) -> Answer { Answer(status: .ok, body: body) }
    }

    /// The endpoints: a method, a path under `/v1/` where `:id` matches one segment, and the
    /// handler given that segment (or "") and the parameters.
    private var routes: [(HTTPRequest.Method, String, (String, StripeForm) -> Answer)] {
        [
            (.post, "customers", { self.createCustomer($1) }),
            (.get, "customers/:id", { id, _ in self.customer(id) }),
            (.post, "customers/:id", { self.updateCustomer($0, $1) }),
            (.delete, "customers/:id", { id, _ in self.deleteCustomer(id) }),
            (.get, "customers/:id/payment_methods", { self.listPaymentMethods(customer: $0, $1) }),
            (.post, "payment_methods/:id/attach", { self.attach($0, $1) }),
            (.post, "payment_methods/:id/detach", { id, _ in self.detach(id) }),
            (.get, "payment_methods", { self.listPaymentMethods(customer: $1.value("customer") ?? "", $1) }),
            (.get, "payment_methods/:id", { id, _ in self.paymentMethod(id) }),
            (.post, "setup_intents", { self.createSetupIntent($1) }),
            (.get, "setup_intents/:id", { id, _ in self.setupIntent(id) }),
            (.post, "setup_intents/:id/confirm", { self.confirmSetupIntent($0, $1) }),
            (.post, "setup_intents/:id/cancel", { id, _ in self.cancelSetupIntent(id) }),
            (.post, "products", { self.createProduct($1) }),
            (.get, "products/:id", { id, _ in self.product(id) }),
            (.post, "prices", { self.createPrice($1) }),
            (.get, "prices", { self.listPrices($1) }),
            (.get, "prices/:id", { id, _ in self.price(id) }),
            (.post, "subscriptions", { self.createSubscription($1) }),
            (.get, "subscriptions", { self.listSubscriptions($1) }),
            (.get, "subscriptions/:id", { id, _ in self.subscription(id) }),
            (.post, "subscriptions/:id", { self.updateSubscription($0, $1) }),
            (.delete, "subscriptions/:id", { id, _ in self.cancelSubscription(id) }),
            (.get, "invoices", { self.listInvoices($1) }),
            (.get, "invoices/:id", { id, _ in self.invoice(id) }),
            (.post, "invoices/:id/pay", { self.payInvoice($0, $1) }),
            (.get, "events", { self.listEvents($1) }),
            (.get, "events/:id", { id, _ in self.event(id) }),
            (.post, "test_helpers/test_clocks", { self.createClock($1) }),
            (.get, "test_helpers/test_clocks", { self.listClocks($1) }),
            (.get, "test_helpers/test_clocks/:id", { id, _ in self.clock(id) }),
            (.post, "test_helpers/test_clocks/:id/advance", { self.advance($0, $1) }),
            (.delete, "test_helpers/test_clocks/:id", { id, _ in self.deleteClock(id) }),
        ]
    }

    private func route(_ method: HTTPRequest.Method, _ path: [String], _ form: StripeForm) -> Answer {
        let parts = Array(path.dropFirst())  // after "v1"
        for (routeMethod, pattern, handler) in routes where routeMethod == method {
            let shape = pattern.split(separator: "/").map(String.init)
            guard shape.count == parts.count else { continue }
            var id = ""
            let matches = zip(shape, parts).allSatisfy { expected, actual in
                if expected == ":id" { id = actual; return !actual.isEmpty }
                return expected == actual
            }
            if matches { return handler(id, form) }
        }
        return StripeError.answer(status: .notFound, type: "invalid_request_error", code: nil,
                                  message: "Unrecognized request URL (\(method.rawValue): /\(path.joined(separator: "/"))).")
    }

    // MARK: Lists

    /// A newest-first page: `limit` (1–100, default 10), `starting_after` or `ending_before`.
    func page(_ ids: [String], url: String, form: StripeForm, render: (String) -> [String: Any]?) -> Answer {
        let limit = form["limit"] == nil ? 10 : form.integer("limit") ?? 0
        guard (1...100).contains(limit) else {
            return StripeError.answer(status: .badRequest, type: "invalid_request_error", code: "parameter_invalid_integer",
                                      message: "Invalid integer: limit must be between 1 and 100", param: "limit")
        }
        if form.value("starting_after") != nil, form.value("ending_before") != nil {
            return StripeError.invalid("You may only specify one of these parameters: ending_before, starting_after.", param: "ending_before")
        }
        var slice = ids[...]
        var hasMore: Bool
        if let after = form.value("starting_after") {
            guard let index = ids.firstIndex(of: after) else { return StripeError.missing(after, param: "starting_after") }
            slice = ids[(index + 1)...]
            hasMore = slice.count > limit
            slice = slice.prefix(limit)
        } else if let before = form.value("ending_before") {
            guard let index = ids.firstIndex(of: before) else { return StripeError.missing(before, param: "ending_before") }
            slice = ids[max(0, index - limit)..<index]
            hasMore = index - limit > 0
        } else {
            hasMore = slice.count > limit
            slice = slice.prefix(limit)
        }
        return .ok(["object": "list", "url": url, "has_more": hasMore, "data": slice.compactMap(render)])
    }
}

extension HTTPResponse.Status {
    static let paymentRequired = Self(code: 402, reasonPhrase: "Payment Required")
}

extension HTTPField.Name {
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let requestID = Self("Request-Id")!
    static let stripeSignature = Self("Stripe-Signature")!
}

/// Stripe's error objects: `{"error": {type, code, message, param, decline_code}}`.
enum StripeError {
    static func answer(status: HTTPResponse.Status, type: String, code: String?, message: String, param: String? = nil,
                       declineCode: String? = nil, extra: [String: Any] = [:]) -> StripeSandbox.Answer {
        var error: [String: Any] = ["type": type, "message": message]
        if let code { error["code"] = code }
        if let param { error["param"] = param }
        if let declineCode { error["decline_code"] = declineCode }
        error.merge(extra) { $1 }
        return StripeSandbox.Answer(status: status, body: ["error": error])
    }

    static func response(status: HTTPResponse.Status, type: String, code: String?, message: String) -> Response {
        answer(status: status, type: type, code: code, message: message).response
    }

    static func invalidRequest(status: HTTPResponse.Status, code: String?, message: String) -> Response {
        response(status: status, type: "invalid_request_error", code: code, message: message)
    }

    static func missing(_ id: String, param: String = "id", kind: String = "object") -> StripeSandbox.Answer {
        answer(status: .notFound, type: "invalid_request_error", code: "resource_missing", message: "No such \(kind): '\(id)'", param: param)
    }

    static func parameterMissing(_ param: String) -> StripeSandbox.Answer {
        answer(status: .badRequest, type: "invalid_request_error", code: "parameter_missing",
               message: "Missing required param: \(param).", param: param)
    }

    static func invalid(_ message: String, param: String) -> StripeSandbox.Answer {
        answer(status: .badRequest, type: "invalid_request_error", code: "parameter_invalid", message: message, param: param)
    }
}
