/// The one error type of the domain: a stable code the API maps to a status and envelope.
public struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }

        /// Input breaks a rule; `field` names it.
        public static let invalid = Code(raw: "validation_error")
        /// Already exists (an email taken, say).
        public static let conflict = Code(raw: "conflict")
        /// Missing, or not the caller's (tenancy answers the same).
        public static let notFound = Code(raw: "not_found")
        /// Credentials or a token are wrong, used, expired or revoked.
        public static let unauthorized = Code(raw: "unauthorized")
        /// The plan's allowance is used up (channels, videos this month).
        public static let limitReached = Code(raw: "plan_limit_reached")
        /// The budget cannot cover the work (`cost_limit` below the estimate).
        public static let costLimitExceeded = Code(raw: "cost_limit_exceeded")
        /// The user's daily or monthly budget has no room for the work; `reason` says which.
        public static let budgetExceeded = Code(raw: "budget_exceeded")
        /// The subscription's payment is overdue past the grace: new work is refused.
        public static let paymentRequired = Code(raw: "payment_required")
        /// The resource is in a state that does not allow this (publishing an unfinished video).
        public static let invalidState = Code(raw: "invalid_state")
    }

    public var code: Code
    public var message: String
    /// The input field at fault, for validation errors.
    public var field: String?
    /// For `limitReached`: the plan's number that was reached.
    public var limit: Int?
    /// A finer reason under the code (`daily_budget`, `monthly_budget`).
    public var reason: String?

    public init(_ code: Code, _ message: String, field: String? = nil, limit: Int? = nil, reason: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.limit = limit
        self.reason = reason
    }

    public var description: String { message }
}
