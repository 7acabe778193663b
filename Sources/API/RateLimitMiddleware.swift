package import Foundation
import Domain
import HTTPTypes
package import OpenAPIRuntime

/// The address the request came from, set by `RequestIDMiddleware` for the OpenAPI layer.
enum ClientAddress {
    @TaskLocal static var value: String?
}

/// Counts every limited operation against its category's window (per user when signed in,
/// per client address otherwise), answers 429 with `Retry-After` past the limit, and tells
/// clients where they stand with `RateLimit-Policy` and `X-RateLimit-*` headers.
struct RateLimitMiddleware: ServerMiddleware {
    let gate: RateLimitGate
    let policy: RateLimitPolicy
    /// operationId → its first tag in the contract.
    let tags: [String: String]

    init(limiter: RateLimiter, policy: RateLimitPolicy, document: String) {
        self.gate = RateLimitGate(limiter: limiter)
        self.policy = policy
        let json = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any]
        var tags: [String: String] = [:]
        for item in (json?["paths"] as? [String: [String: Any]] ?? [:]).values {
            for operation in item.values {
                guard let operation = operation as? [String: Any], let id = operation["operationId"] as? String else { continue }
                tags[id] = (operation["tags"] as? [String])?.first
            }
        }
        self.tags = tags
    }

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard let (category, limit) = policy.category(forTag: tags[operationID]) else {
            return try await next(request, body, metadata)
        }
        let who = CurrentUser.value.map { "user:\($0.user.id)" } ?? "ip:\(ClientAddress.value ?? "unknown")"
        let headers = try await gate.admit(category: category, limit: limit, who: who)
        do {
            var (response, responseBody) = try await next(request, body, metadata)
            response.headerFields.append(contentsOf: headers)
            return (response, responseBody)
        } catch {
            // Client errors count too and say so; server errors go up untouched to be logged.
            var mapped = ErrorMapping.apiError(for: error)
            guard mapped.status.kind == .clientError else { throw error }
            mapped.headers.append(contentsOf: headers)
            throw mapped
        }
    }
}

/// Counts one request of a category for a caller against its window.
struct RateLimitGate: Sendable {
    let limiter: RateLimiter

    /// - Returns: the headers telling the caller where it stands.
    /// - Throws: a 429 `APIError` with those headers and `Retry-After` past the limit.
    func admit(category: String, limit: RateLimitPolicy.Limit, who: String) async throws -> HTTPFields {
        let decision = try await limiter.hit(bucket: "\(category):\(who)", limit: limit.requests, window: limit.window)
        var headers = HTTPFields()
        headers[.rateLimitPolicy] = "\(limit.requests);w=\(limit.window.components.seconds)"
        headers[.xRateLimitLimit] = String(decision.limit)
        headers[.xRateLimitRemaining] = String(decision.remaining)
        headers[.xRateLimitReset] = String(decision.resetSeconds)
        guard decision.allowed else {
            var error = APIError(.tooManyRequests, code: "rate_limit_exceeded", message: "Too many requests",
                                 retryAfter: decision.resetSeconds)
            error.headers = headers
            throw error
        }
        return headers
    }
}

extension HTTPField.Name {
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    static let xRateLimitLimit = HTTPField.Name("X-RateLimit-Limit")!
    static let xRateLimitRemaining = HTTPField.Name("X-RateLimit-Remaining")!
    static let xRateLimitReset = HTTPField.Name("X-RateLimit-Reset")!
}
