package import Foundation
import Domain
import HTTPTypes
package import OpenAPIRuntime

/// The authenticated caller of the current request.
struct CurrentUser: Sendable {
    var user: User
    var sessionID: String
    /// When the access token that authenticated this caller expires.
    var expiresAt: Date = .distantFuture

    @TaskLocal static var value: CurrentUser?

    /// The caller, or 401 when the operation ran without one (a wiring bug: the middleware
    /// authenticates every non-public operation).
    static func require() throws -> CurrentUser {
        guard let value else { throw APIError.unauthorized }
        return value
    }
}

/// Authenticates every operation not marked `security: []` in the contract: a valid RS256
/// access token whose session is still live. Anything else is 401 with the envelope.
struct AuthMiddleware: ServerMiddleware {
    /// The operations marked `security: []` in `openapi.yaml` (a test keeps the two in sync).
    static let publicOperations: Set<String> = [
        "getHealth", "getStatus", "register", "login", "refresh", "logout", "verifyEmail", "forgotPassword", "resetPassword",
        "youTubeCallback", "confirmYouTubeConnection", "receiveStripeWebhook",
    ]

    let tokens: AccessTokens

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if Self.publicOperations.contains(operationID) { return try await next(request, body, metadata) }
        guard let header = request.headerFields[.authorization], header.count > 7,
              header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthorized }
        let caller = try await tokens.caller(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        return try await CurrentUser.$value.withValue(caller) {
            try await next(request, body, metadata)
        }
    }
}

/// Checks access tokens: an RS256 signature of ours, not expired, naming a live session.
/// HTTP operations and WebSocket connections authenticate through it alike.
struct AccessTokens: Sendable {
    let signer: TokenSigner
    let sessions: SessionRepository

    /// The caller the token speaks for.
    /// - Throws: 401 `APIError` for a bad, expired or revoked token.
    func caller(_ token: String) async throws -> CurrentUser {
        guard let claims = await signer.verify(token),
              let user = try await sessions.activeUser(sessionID: claims.sid, userID: claims.sub.value)
        else { throw APIError.unauthorized("The access token is invalid, expired or revoked") }
        return CurrentUser(user: user, sessionID: claims.sid, expiresAt: claims.exp.value)
    }
}
