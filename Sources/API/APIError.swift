package import Foundation
public import HTTPTypes
import Hummingbird

/// An error an API client sees: an HTTP status and the spec's envelope
/// `{"error": code, "message": …, "details": {"field": …, "issue": …}}`.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    /// The envelope's `error`: validation_error, unauthorized, forbidden, not_found, conflict,
    /// rate_limit_exceeded, payload_too_large, method_not_allowed, service_unavailable, internal_error.
    public var code: String
    public var message: String
    public var field: String?
    public var issue: String?
    /// The specific reason behind a status the spec names with a general code: a 403
    /// `forbidden` is `plan_limit_reached` here, in `details.reason`.
    public var reason: String?
    /// With `reason` `plan_limit_reached`: the plan's number that was reached.
    public var limit: Int?
    public var retryAfter: Int?
    /// For 405: the methods the path accepts (the `Allow` header).
    public var allow: [String]?
    /// More headers for the response (rate-limit state on a 429, say).
    public var headers = HTTPFields()

    public init(_ status: HTTPResponse.Status, code: String, message: String, field: String? = nil, issue: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.issue = issue
        self.retryAfter = retryAfter
    }

    public static func validation(_ message: String, field: String? = nil, issue: String? = nil) -> APIError {
        APIError(.badRequest, code: "validation_error", message: message, field: field, issue: issue)
    }

    /// 405 for a documented path called with a method it does not accept.
    public static func methodNotAllowed(_ allow: [String]) -> APIError {
        var error = APIError(.methodNotAllowed, code: "method_not_allowed", message: "This path accepts \(allow.joined(separator: ", "))")
        error.allow = allow
        return error
    }

    public static let unauthorized = APIError(.unauthorized, code: "unauthorized", message: "Authentication required")

    /// 401 with a message saying which credential failed.
    public static func unauthorized(_ message: String, field: String? = nil, issue: String? = nil) -> APIError {
        APIError(.unauthorized, code: "unauthorized", message: message, field: field, issue: issue)
    }
    public static let notFound = APIError(.notFound, code: "not_found", message: "Resource not found")

    public static func conflict(_ message: String) -> APIError {
        APIError(.conflict, code: "conflict", message: message)
    }

    /// 403 `forbidden` (the spec's code) for a plan limit, with `details.reason`
    /// `plan_limit_reached` and the limit.
    public static func planLimitReached(_ message: String, limit: Int?, field: String? = nil) -> APIError {
        var error = APIError(.forbidden, code: "forbidden", message: message, field: field)
        error.reason = "plan_limit_reached"
        error.limit = limit
        return error
    }

    public static func serviceUnavailable(_ message: String) -> APIError {
        APIError(.serviceUnavailable, code: "service_unavailable", message: message)
    }

    /// The JSON body; `requestID` is included for server errors so clients can quote it.
    func envelope(requestID: String) -> ErrorEnvelopeBody {
        var details: ErrorEnvelopeBody.Details?
        if field != nil || issue != nil || reason != nil { details = .init(field: field, issue: issue, reason: reason, limit: limit) }
        let includeID = status.kind == .serverError
        return ErrorEnvelopeBody(error: code, message: message, details: details, retryAfter: retryAfter,
                                 requestID: includeID ? requestID : nil)
    }

    /// The response for this error.
    func response(requestID: String) -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.requestID] = requestID
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow.joined(separator: ", ") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(envelope(requestID: requestID))) ?? Data(#"{"error":"internal_error","message":"An unexpected error occurred"}"#.utf8)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// The envelope's wire shape.
struct ErrorEnvelopeBody: Codable, Equatable {
    struct Details: Codable, Equatable {
        var field: String?
        var issue: String?
        var reason: String?
        var limit: Int?
    }

    var error: String
    var message: String
    var details: Details?
    var retryAfter: Int?
    var requestID: String?

    enum CodingKeys: String, CodingKey {
        case error, message, details
        case retryAfter = "retry_after"
        case requestID = "request_id"
    }
}

extension HTTPField.Name {
    /// `X-Request-ID`, on every response.
    public static let requestID = HTTPField.Name("X-Request-ID")!
}
