package import Foundation
import HummingbirdOTP

/// RFC 6238 TOTP as this API uses it: SHA-1, 6 digits, 30-second steps, one step of clock
/// drift allowed either way. Which step matched is returned so the caller can refuse a
/// replay of a step already used.
struct TwoFactor: Sendable {
    static let step = 30
    static let digits = 6

    /// A new secret: 20 random characters, the key bytes being their UTF-8 (what
    /// HummingbirdOTP and authenticator apps, via the base32 in the URI, both use).
    static func makeSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }

    static func authenticatorURI(secret: String, account: String) -> String {
        TOTP(secret: secret, length: digits, timeStep: step).createAuthenticatorURL(label: account, issuer: "YTEmpire")
    }

    /// The time step `code` is valid for at `date` (current, previous or next), or nil.
    static func matchingStep(code: String, secret: String, at date: Date) -> Int64? {
        guard code.count == digits, let value = Int(code) else { return nil }
        let totp = TOTP(secret: secret, length: digits, timeStep: step)
        let current = Int64(date.timeIntervalSince1970) / Int64(step)
        for candidate in [current, current - 1, current + 1] where candidate >= 0 {
            let instant = Date(timeIntervalSince1970: TimeInterval(candidate * Int64(step)))
            if totp.compute(date: instant) == value { return candidate }
        }
        return nil
    }
}
