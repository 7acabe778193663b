package import Foundation
import Domain

/// Two-factor authentication: enable (a pending secret), verify (turns it on), disable.
extension APIService {
    func enableTwoFactor(_ input: Operations.EnableTwoFactor.Input) async throws -> Operations.EnableTwoFactor.Output {
        let caller = try CurrentUser.require()
        guard !caller.user.twoFactorEnabled else {
            throw APIError.conflict("Two-factor authentication is already on; disable it first to change the secret")
        }
        let secret = TwoFactor.makeSecret()
        try await users.setPendingTwoFactorSecret(userID: caller.user.id, secret: secret)
        let uri = TwoFactor.authenticatorURI(secret: secret, account: caller.user.email)
        let base32 = URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value ?? ""
        return .ok(.init(body: .json(.init(secret: base32, otpauthUri: uri))))
    }

    func verifyTwoFactor(_ input: Operations.VerifyTwoFactor.Input) async throws -> Operations.VerifyTwoFactor.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let state = try await users.twoFactorState(userID: caller.user.id)
        guard let secret = state.secret else {
            throw APIError.conflict("No two-factor setup is in progress: start with POST /auth/2fa/enable")
        }
        try await useCode(body.code, secret: secret, userID: caller.user.id, enable: true)
        return .ok(.init(body: .json(.init(message: "Two-factor authentication is on"))))
    }

    func disableTwoFactor(_ input: Operations.DisableTwoFactor.Input) async throws -> Operations.DisableTwoFactor.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let state = try await users.twoFactorState(userID: caller.user.id)
        guard state.enabled, let secret = state.secret else {
            throw APIError.conflict("Two-factor authentication is not on")
        }
        try await useCode(body.code, secret: secret, userID: caller.user.id, enable: false)
        return .ok(.init(body: .json(.init(message: "Two-factor authentication is off"))))
    }

    /// Accepts a code once: it must match a current step newer than the last one used.
    func useCode(_ code: String, secret: String, userID: String, enable: Bool? = nil) async throws {
        try InputLimits.checkDigits(code, count: TwoFactor.digits, field: "code")
        let invalid = APIError.unauthorized("The two-factor code is invalid or was already used")
        guard let step = TwoFactor.matchingStep(code: code, secret: secret, at: Date()),
              try await users.useTwoFactorStep(userID: userID, step: step, enable: enable)
        else { throw invalid }
    }
}
