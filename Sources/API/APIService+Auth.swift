package import Foundation
import Domain

/// Authentication: register, login, refresh, logout, verify-email.
extension APIService {
    func register(_ input: Operations.Register.Input) async throws -> Operations.Register.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let email = body.email
        try AccountRules.validateEmail(email)
        try AccountRules.validatePassword(body.password)
        try AccountRules.validateName(body.fullName, field: "full_name")
        try InputLimits.check(body.company, max: 200, field: "company")
        let hash = try await passwords.hash(body.password)
        let user = try await accounts.register(email: email, passwordHash: hash, fullName: body.fullName, company: body.company)
        return .created(.init(body: .json(.init(userId: user.id, email: user.email,
                                                 message: "Registration successful. Please verify your email.",
                                                 verificationSent: true))))
    }

    func login(_ input: Operations.Login.Input) async throws -> Operations.Login.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.email, max: 254, field: "email")
        try InputLimits.check(body.password, max: 128, field: "password")
        try InputLimits.checkDigits(body.totpCode, count: 6, field: "totp_code")
        let email = body.email.trimmingCharacters(in: .whitespacesAndNewlines)
        // Addresses are ASCII (registration takes nothing else), so one lowercasing names one
        // account, here and in the database alike.
        guard email.allSatisfy(\.isASCII) else { throw APIError.unauthorized("Invalid email or password") }
        // Every attempt is counted before the password is checked, so concurrent guesses
        // cannot all pass a count none of them has written yet; a success is forgiven.
        let attempts = "login_attempts:\(email.lowercased())"
        let allowance = rateLimits.failedLoginsPerEmail
        let standing = try await limiter.hit(bucket: attempts, limit: allowance.requests, window: allowance.window)
        guard standing.allowed else {
            throw APIError(.tooManyRequests, code: "rate_limit_exceeded", message: "Too many failed logins for this account; try again later",
                           retryAfter: standing.resetSeconds)
        }
        let tokens = try await authenticate(email: email, password: body.password, totpCode: body.totpCode)
        try await limiter.forgive(bucket: attempts, window: allowance.window)
        return .ok(.init(body: .json(tokens)))
    }

    /// Checks the credentials (a dummy verification for an unknown email, so both cost the
    /// same) and starts a session.
    private func authenticate(email: String, password: String, totpCode: String?) async throws -> Components.Schemas.TokenResponse {
        let refused = APIError.unauthorized("Invalid email or password")
        guard let (user, hash) = try await users.credentials(email: email) else {
            _ = try await passwords.verify(password, against: passwords.dummyHash)
            throw refused
        }
        guard try await passwords.verify(password, against: hash) else { throw refused }
        if user.twoFactorEnabled {
            guard let code = totpCode else {
                throw APIError.unauthorized("A two-factor code is required", field: "totp_code", issue: "is required")
            }
            let state = try await users.twoFactorState(userID: user.id)
            guard let secret = state.secret else { throw refused }
            try await useCode(code, secret: secret, userID: user.id)
        }
        let session = try await sessions.start(userID: user.id, refreshLifetime: auth.refreshLifetime)
        return try await tokenResponse(user: user, sessionID: session.sessionID, refresh: session.refresh)
    }

    func refresh(_ input: Operations.Refresh.Input) async throws -> Operations.Refresh.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.refreshToken, max: 200, field: "refresh_token")
        switch try await sessions.rotate(SecretToken(value: body.refreshToken), refreshLifetime: auth.refreshLifetime) {
        case .rotated(let userID, let sessionID, let next):
            guard let user = try await users.user(id: userID) else { throw APIError.unauthorized }
            return .ok(.init(body: .json(try await tokenResponse(user: user, sessionID: sessionID, refresh: next))))
        case .reused:
            throw APIError.unauthorized("This refresh token was already used; the session has been revoked. Log in again.")
        case .invalid:
            throw APIError.unauthorized("The refresh token is invalid or expired")
        }
    }

    func logout(_ input: Operations.Logout.Input) async throws -> Operations.Logout.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.refreshToken, max: 200, field: "refresh_token")
        guard try await sessions.revoke(byRefresh: SecretToken(value: body.refreshToken), reason: "logout") else {
            throw APIError.unauthorized("The refresh token is invalid")
        }
        return .ok(.init(body: .json(.init(message: "Logged out"))))
    }

    func verifyEmail(_ input: Operations.VerifyEmail.Input) async throws -> Operations.VerifyEmail.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.token, max: 200, field: "token")
        _ = try await accounts.verifyEmail(token: SecretToken(value: body.token))
        return .ok(.init(body: .json(.init(message: "Email verified"))))
    }

    private func tokenResponse(user: User, sessionID: String, refresh: SecretToken) async throws -> Components.Schemas.TokenResponse {
        Components.Schemas.TokenResponse(
            accessToken: try await signer.issue(userID: user.id, sessionID: sessionID, isOperator: user.isOperator), refreshToken: refresh.value,
            tokenType: .bearer, expiresIn: Int(auth.accessLifetime.seconds),
            user: .init(id: user.id, email: user.email, subscriptionTier: user.subscriptionTier))
    }
}

/// Password reset.
extension APIService {
    func forgotPassword(_ input: Operations.ForgotPassword.Input) async throws -> Operations.ForgotPassword.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.email, max: 254, field: "email")
        try await accounts.requestPasswordReset(email: body.email)
        return .accepted(.init(body: .json(.init(message: "If an account exists for this address, a reset email is on its way"))))
    }

    func resetPassword(_ input: Operations.ResetPassword.Input) async throws -> Operations.ResetPassword.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        try InputLimits.check(body.token, max: 200, field: "token")
        try AccountRules.validatePassword(body.newPassword, field: "new_password")
        let hash = try await passwords.hash(body.newPassword)
        try await accounts.resetPassword(token: SecretToken(value: body.token), newPasswordHash: hash)
        return .ok(.init(body: .json(.init(message: "Password changed; every session was signed out"))))
    }
}
