import Domain
import HTTPTypes
package import OpenAPIRuntime

/// The authenticated caller of the current request.
struct CurrentUser: Sendable {
    var user: User
    var sessionID: String

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
        "youTubeCallback",
    ]

    let signer: TokenSigner
    let sessions: SessionRepository

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if Self.publicOperations.contains(operationID) { return try await next(request, body, metadata) }
        guard let header = request.headerFields[.authorization], header.count > 7,
              header.prefix(7).lowercased() == "bearer "
        else { throw APIError.unauthorized }
        guard let claims = await signer.verify(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)),
              let user = try await sessions.activeUser(sessionID: claims.sid, userID: claims.sub.value)
        else { throw APIError.unauthorized("The access token is invalid, expired or revoked") }
        return try await CurrentUser.$value.withValue(CurrentUser(user: user, sessionID: claims.sid)) {
            try await next(request, body, metadata)
        }
    }
}
