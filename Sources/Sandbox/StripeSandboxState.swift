import Foundation

/// Everything the Stripe sandbox holds: its objects, the events it has sent or must still
/// send, and the answers stored under idempotency keys. Codable, so a restart of the process
/// picks up where it left off (`StripeSandbox.Configuration.stateFile`).
struct StripeSandboxState: Codable, Sendable {
    struct Customer: Codable, Sendable {
        var id: String
        var email: String?
        var name: String?
        var metadata: [String: String]
        var defaultPaymentMethod: String?
        var testClock: String?
        var created: Int
        var deleted = false
        var delinquent = false
    }

    /// What a test card does when charged.
    enum CardBehavior: String, Codable, Sendable {
        case succeeds
        /// Attaches, then every charge is declined (`pm_card_chargeCustomerFail`).
        case declinesCharges
    }

    struct PaymentMethod: Codable, Sendable {
        var id: String
        var customer: String?
        var brand: String
        var last4: String
        var expMonth: Int
        var expYear: Int
        var fingerprint: String
        var behavior: CardBehavior
        var created: Int
        /// Detached methods cannot be used again.
        var detached = false
    }

    struct SetupIntent: Codable, Sendable {
        var id: String
        var customer: String?
        var paymentMethod: String?
        /// `requires_payment_method`, `requires_confirmation`, `succeeded`, `canceled`.
        var status: String
        var usage: String
        var created: Int
        var clientSecret = ""
        /// The last decline's error object (JSON).
        var lastError: Data?
    }

    struct Product: Codable, Sendable {
        var id: String
        var name: String
        var metadata: [String: String]
        var created: Int
    }

    struct Price: Codable, Sendable {
        var id: String
        var product: String
        var unitAmount: Int
        var currency: String
        var interval: String
        var intervalCount: Int
        var lookupKey: String?
        var nickname: String?
        var active: Bool
        var metadata: [String: String]
        var created: Int
    }

    struct Item: Codable, Sendable {
        var id: String
        var price: String
        var quantity: Int
    }

    struct Subscription: Codable, Sendable {
        var id: String
        var customer: String
        var status: String
        var items: [Item]
        var currentPeriodStart: Int
        var currentPeriodEnd: Int
        var cancelAtPeriodEnd: Bool
        var canceledAt: Int?
        var endedAt: Int?
        var defaultPaymentMethod: String?
        var latestInvoice: String?
        var metadata: [String: String]
        var created: Int
        /// The billing cycle anchor: every period end is counted from it.
        var startDate: Int
        /// Periods begun since the anchor (1 during the first).
        var periods = 1
        /// Proration lines waiting for the next invoice (`create_prorations`).
        var pendingLines: [Line] = []
    }

    struct Line: Codable, Sendable {
        var id: String
        var amount: Int
        var currency: String
        var description: String
        var price: String
        var quantity: Int
        var proration: Bool
        var periodStart: Int
        var periodEnd: Int
    }

    struct Invoice: Codable, Sendable {
        var id: String
        var number: String
        var customer: String
        var subscription: String?
        var status: String
        var billingReason: String
        var currency: String
        var lines: [Line]
        var periodStart: Int
        var periodEnd: Int
        var amountPaid: Int
        var attemptCount: Int
        var nextPaymentAttempt: Int?
        var created: Int
        var finalizedAt: Int?
        var paidAt: Int?
        var markedUncollectibleAt: Int?
        var paymentMethod: String?

        var total: Int { lines.reduce(0) { $0 + $1.amount } }
        var amountDue: Int { max(0, total) }
    }

    struct TestClock: Codable, Sendable {
        var id: String
        var name: String?
        var frozenTime: Int
        var status: String
        var created: Int
    }

    /// An event and its delivery to the configured endpoint.
    struct Event: Codable, Sendable {
        var id: String
        var type: String
        var created: Int
        /// The object's JSON at the time of the event.
        var object: Data
        var previous: Data?
        var delivered = false
        var attempts = 0
        var nextAttempt: Date
    }

    struct StoredAnswer: Codable, Sendable {
        var fingerprint: String
        var status: Int
        var body: Data
        var stored: Date
    }

    var customers: [String: Customer] = [:]
    var paymentMethods: [String: PaymentMethod] = [:]
    var setupIntents: [String: SetupIntent] = [:]
    var products: [String: Product] = [:]
    var prices: [String: Price] = [:]
    var subscriptions: [String: Subscription] = [:]
    var invoices: [String: Invoice] = [:]
    var clocks: [String: TestClock] = [:]
    var events: [Event] = []
    var idempotency: [String: StoredAnswer] = [:]
    var invoiceCount = 0
    /// Creation order per kind, for newest-first lists with cursors.
    var order: [String: [String]] = [:]

    mutating func remember(_ id: String, kind: String) { order[kind, default: []].append(id) }

    /// Ids of `kind`, newest first.
    func newestFirst(_ kind: String) -> [String] { (order[kind] ?? []).reversed() }
}

/// Stripe-style ids: a prefix and 24 random letters and digits.
func stripeID(_ prefix: String) -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return prefix + String((0..<24).map { _ in alphabet.randomElement() ?? "x" })
}
