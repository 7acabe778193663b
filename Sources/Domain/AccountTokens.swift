import Foundation

/// Access tokens of connected YouTube accounts for whatever calls YouTube on their behalf.
public struct AccountTokens: Sendable {
    public let gateway: any YouTubeGateway
    public let accounts: YouTubeAccountRepository

    public init(gateway: any YouTubeGateway, accounts: YouTubeAccountRepository) {
        self.gateway = gateway
        self.accounts = accounts
    }

    /// Runs `call` with a valid access token of the account: refreshed when it expires within
    /// 5 minutes, and once more if Google refuses it anyway (revoked or rotated early).
    /// - Returns: nil when the account is gone or its grant was revoked (it is then `auth_expired`).
    public func withToken<T>(_ accountID: String, _ call: (String) async throws -> T) async throws -> T? {
        guard let credentials = try await accounts.credentials(accountID: accountID) else { return nil }
        if credentials.expiresAt > Date().addingTimeInterval(300) {
            do { return try await call(credentials.accessToken) } catch let error as YouTubeError where error.kind == .unauthorized {}
        }
        do {
            let tokens = try await gateway.refresh(refreshToken: credentials.refreshToken)
            try await accounts.storeRefreshed(accountID: accountID, tokens: tokens)
            return try await call(tokens.accessToken)
        } catch let error as YouTubeError where error.kind == .invalidGrant {
            try await accounts.markAuthExpired(accountID: accountID, message: error.message)
            return nil
        }
    }
}
