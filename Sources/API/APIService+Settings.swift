package import Foundation
import Domain

/// Users: profile changes, settings and account deletion.
extension APIService {
    func updateProfile(_ input: Operations.UpdateProfile.Input) async throws -> Operations.UpdateProfile.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        if let name = body.fullName { try AccountRules.validateName(name, field: "full_name") }
        try InputLimits.check(body.company, max: 200, field: "company")
        guard let user = try await users.updateProfile(userID: caller.user.id, fullName: body.fullName, company: body.company) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(try await profile(of: user))))
    }

    func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        let caller = try CurrentUser.require()
        guard let json = try await users.settings(userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(try UserSettings(json: json).schema)))
    }

    func updateSettings(_ input: Operations.UpdateSettings.Input) async throws -> Operations.UpdateSettings.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        var patch: [String: Any] = [:]
        try InputLimits.check(body.timezone, max: 64, field: "timezone")
        if let timezone = body.timezone {
            guard TimeZone(identifier: timezone) != nil else {
                throw APIError.validation("timezone must be an IANA time zone such as Europe/Berlin", field: "timezone", issue: "unknown time zone")
            }
            patch["timezone"] = timezone
        }
        if let language = body.language {
            guard language.count == 2, language.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
                throw APIError.validation("language must be a two-letter code such as en", field: "language", issue: "invalid")
            }
            patch["language"] = language
        }
        if let notifications = body.emailNotifications { patch["email_notifications"] = notifications }
        if let limit = body.defaultCostLimit {
            guard limit.isFinite, (0...1000).contains(limit) else {
                throw APIError.validation("default_cost_limit must be between 0 and 1000", field: "default_cost_limit", issue: "out of range")
            }
            patch["default_cost_limit"] = limit
        }
        let data = try JSONSerialization.data(withJSONObject: patch)
        guard let json = try await users.mergeSettings(userID: caller.user.id, patch: String(decoding: data, as: UTF8.self)) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(try UserSettings(json: json).schema)))
    }

    func deleteAccount(_ input: Operations.DeleteAccount.Input) async throws -> Operations.DeleteAccount.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        guard let hash = try await users.passwordHash(userID: caller.user.id),
              try await passwords.verify(body.password, against: hash)
        else { throw APIError.unauthorized("The password is wrong", field: "password", issue: "does not match") }
        try await accounts.deleteAccount(userID: caller.user.id)
        return .ok(.init(body: .json(.init(message: "The account and its data were deleted"))))
    }
}

/// The settings document with its defaults.
struct UserSettings {
    var timezone = "UTC"
    var language = "en"
    var emailNotifications = true
    var defaultCostLimit = 5.0

    init(json: String) throws {
        let object = (try JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
        if let value = object["timezone"] as? String { timezone = value }
        if let value = object["language"] as? String { language = value }
        if let value = object["email_notifications"] as? Bool { emailNotifications = value }
        if let value = object["default_cost_limit"] as? Double { defaultCostLimit = value }
    }

    var schema: Components.Schemas.Settings {
        .init(timezone: timezone, language: language, emailNotifications: emailNotifications, defaultCostLimit: defaultCostLimit)
    }
}
