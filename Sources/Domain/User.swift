import Foundation

/// A customer account as the API shows it (never its password hash or TOTP secret).
public struct User: Sendable, Equatable {
    public var id: String
    public var email: String
    public var fullName: String
    public var company: String?
    public var subscriptionTier: String
    public var emailVerified: Bool
    public var twoFactorEnabled: Bool
    public var createdAt: Date
    /// May use the admin API and the console (granted from the command line only).
    public var isOperator: Bool = false
}

/// The rules for what a user may type.
public enum AccountRules {
    /// The address syntax the contract declares (`openapi.yaml`, RegisterRequest.email): a
    /// local part of 1 to 64 characters from the HTML5 set, `@`, and two or more dot-separated
    /// labels of ASCII letters, digits and hyphens; 254 bytes at most.
    public static func validateEmail(_ email: String) throws {
        let localCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
        let labelCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        let labels = parts.count == 2 ? parts[1].split(separator: ".", omittingEmptySubsequences: false) : []
        let ok = email.utf8.count <= 254 && parts.count == 2
            && (1...64).contains(parts[0].count) && parts[0].allSatisfy(localCharacters.contains)
            && labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && $0.allSatisfy(labelCharacters.contains) }
        guard ok else { throw DomainError(.invalid, "Invalid email format", field: "email") }
    }

    /// 10 to 128 characters. Length, not composition, as NIST SP 800-63B advises: composition
    /// rules push people to predictable patterns.
    public static func validatePassword(_ password: String, field: String = "password") throws {
        guard password.count >= 10 else {
            throw DomainError(.invalid, "Password must be at least 10 characters", field: field)
        }
        guard password.count <= 128 else {
            throw DomainError(.invalid, "Password must be at most 128 characters", field: field)
        }
    }

    /// 1 to 200 characters.
    public static func validateName(_ name: String, field: String) throws {
        guard (1...200).contains(name.count) else {
            throw DomainError(.invalid, "\(field) must be 1 to 200 characters", field: field)
        }
    }
}
