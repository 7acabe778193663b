package import Foundation
import Hummingbird
package import OpenAPIRuntime
import Domain
import Queue
import PostgresNIO

/// Turns any error that reaches the edge into the `APIError` a client sees.
enum ErrorMapping {
    /// What may be logged about an error: never the request (a `ServerError` describes its
    /// input, passwords included), only what went wrong.
    static func loggable(_ error: any Error) -> String {
        if let error = error as? ServerError {
            return "\(error.operationID): \(String(reflecting: error.underlyingError))"
        }
        return String(reflecting: error)
    }

    /// The queue's refusals of an operator's action (the admin API): a missing job or queue is
    /// 404, a job in the wrong state (or a bulk count that changed) 409, a bad setting 400.
    static func queueError(_ error: QueueError) -> APIError {
        switch error.code {
        case .jobNotFound, .queueNotFound: APIError(.notFound, code: "not_found", message: error.message)
        case .invalidState: APIError(.conflict, code: "invalid_state", message: error.message)
        case .invalidConfiguration: .validation(error.message)
        default: APIError(.internalServerError, code: "internal_error", message: "An unexpected error occurred")
        }
    }

    static func apiError(for error: any Error) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as DomainError:
            return domainError(error)
        case let error as PaymentError:
            return paymentError(error)
        case let error as QueueError:
            return queueError(error)
        case let error as PostgresTransactionError:
            // What a transaction's closure threw (a domain rule, say) decides the answer.
            if let inner = error.closureError { return apiError(for: inner) }
            return APIError(.internalServerError, code: "internal_error", message: "An unexpected error occurred")
        case let error as PSQLError where ["22021", "22P05"].contains(error.serverInfo?[.sqlState]):
            // Text Postgres cannot store (a NUL character, invalid UTF-8) came from the client.
            return .validation("Text must be valid UTF-8 without NUL characters", issue: "invalid characters")
        case let error as ServerError:
            // The generated code wraps what handlers throw and what it could not decode.
            if let inner = error.underlyingError as? APIError { return inner }
            if let inner = error.underlyingError as? DomainError { return domainError(inner) }
            if let inner = error.underlyingError as? PaymentError { return paymentError(inner) }
            if let inner = error.underlyingError as? QueueError { return queueError(inner) }
            if let inner = error.underlyingError as? PostgresTransactionError { return apiError(for: inner) }
            if let inner = error.underlyingError as? PSQLError, ["22021", "22P05"].contains(inner.serverInfo?[.sqlState]) {
                return apiError(for: inner)
            }
            // The runtime marks what it could not decode as a client error; anything else a
            // handler threw is ours.
            guard error.httpStatus.kind == .clientError else {
                return APIError(.internalServerError, code: "internal_error", message: "An unexpected error occurred")
            }
            return decodingFailure(error)
        case let error as HTTPError:
            return httpError(error)
        case let error as any HTTPResponseError:
            return APIError(error.status, code: code(for: error.status), message: error.status.reasonPhrase)
        default:
            return APIError(.internalServerError, code: "internal_error", message: "An unexpected error occurred")
        }
    }

    private static func domainError(_ error: DomainError) -> APIError {
        switch error.code {
        case .invalid: return .validation(error.message, field: error.field, issue: error.message)
        case .conflict: return APIError(.conflict, code: "conflict", message: error.message, field: error.field)
        case .notFound: return APIError(.notFound, code: "not_found", message: error.message)
        case .unauthorized: return APIError.unauthorized(error.message)
        case .limitReached: return .planLimitReached(error.message, limit: error.limit, field: error.field)
        case .costLimitExceeded:
            return APIError(.unprocessableContent, code: "cost_limit_exceeded", message: error.message, field: error.field)
        case .invalidState: return APIError(.conflict, code: "invalid_state", message: error.message, field: error.field)
        case .budgetExceeded:
            var mapped = APIError(.init(code: 402, reasonPhrase: "Payment Required"), code: "budget_exceeded", message: error.message, field: error.field)
            mapped.reason = error.reason
            return mapped
        case .paymentRequired:
            return APIError(.init(code: 402, reasonPhrase: "Payment Required"), code: "payment_required", message: error.message)
        default: return APIError(.internalServerError, code: "internal_error", message: "An unexpected error occurred")
        }
    }

    /// What the payment provider refused: a declined card is 402 `card_declined` with the
    /// bank's reason; a request it rejected is the client's (400); an outage is 503.
    private static func paymentError(_ error: PaymentError) -> APIError {
        switch error {
        case let .declined(message, reason):
            var mapped = APIError(.init(code: 402, reasonPhrase: "Payment Required"), code: "card_declined", message: message)
            mapped.reason = reason
            return mapped
        case let .rejected(message, field):
            return .validation(message, field: field.map { $0 == "payment_method" ? "payment_method_id" : $0 }, issue: message)
        case .unavailable:
            return .serviceUnavailable("The payment provider did not answer; try again in a moment")
        }
    }

    private static func httpError(_ error: HTTPError) -> APIError {
        switch error.status {
        case .notFound:
            return APIError(.notFound, code: "not_found", message: "No such route")
        case .contentTooLarge:
            return .payloadTooLarge
        case .methodNotAllowed:
            return APIError(.methodNotAllowed, code: "method_not_allowed", message: "Method not allowed on this route")
        default:
            return APIError(error.status, code: code(for: error.status), message: error.body ?? error.status.reasonPhrase)
        }
    }

    /// A request the generated code could not decode: malformed JSON, a wrong type, an
    /// unknown enum value, a missing field or parameter, a wrong content type.
    private static func decodingFailure(_ error: ServerError) -> APIError {
        if error.httpStatus == .unsupportedMediaType {
            return APIError(.unsupportedMediaType, code: "validation_error", message: "Content-Type must be application/json")
        }
        let underlying = error.underlyingError
        var field: String?
        var issue = "is invalid"
        if let decoding = underlying as? DecodingError {
            switch decoding {
            case .keyNotFound(let key, let context):
                field = path(context.codingPath + [key])
                issue = "is required"
            case .typeMismatch(let type, let context):
                field = path(context.codingPath)
                issue = "must be of type \(typeName(type))"
            case .valueNotFound(_, let context):
                field = path(context.codingPath)
                issue = "must not be null"
            case .dataCorrupted(let context):
                field = context.codingPath.isEmpty ? nil : path(context.codingPath)
                issue = context.codingPath.isEmpty ? "body is not valid JSON" : "has an invalid value"
            @unknown default:
                break
            }
        }
        let message = field.map { "\($0) \(issue)" } ?? "Invalid request: \(issue)"
        return APIError.validation(message, field: field, issue: issue)
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int.Type, is Int64.Type, is Int32.Type: "integer"
        case is Double.Type, is Float.Type: "number"
        case is Bool.Type: "boolean"
        default: "\(type)".lowercased()
        }
    }

    private static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "validation_error"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 409: "conflict"
        case 429: "rate_limit_exceeded"
        case 500...: "internal_error"
        default: "error"
        }
    }
}
