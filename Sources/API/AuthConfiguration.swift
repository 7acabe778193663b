package import Foundation

/// Token lifetimes, signing keys and password hashing cost. Every default is production's.
public struct AuthConfiguration: Sendable {
    /// `iss` of access tokens. Default `ytempire`.
    public var issuer: String
    /// `aud` of access tokens; tokens for another audience are refused. Default `ytempire-api`.
    public var audience: String
    /// Access token lifetime. Default 3600 s (the spec's `expires_in`).
    public var accessLifetime: Duration
    /// Refresh token lifetime. Default 30 days.
    public var refreshLifetime: Duration
    /// PEM file of the RS256 private key. When absent, a key is generated once into
    /// `keyDirectory` and reused on every start (and by every process sharing the folder).
    public var privateKeyFile: String?
    /// Where a generated key is kept. Default `.data/keys`.
    public var keyDirectory: String
    /// bcrypt cost (4–31). Default 12; tests use less.
    public var bcryptCost: UInt8

    public init(issuer: String = "ytempire", audience: String = "ytempire-api", accessLifetime: Duration = .seconds(3600),
                refreshLifetime: Duration = .seconds(30 * 86_400), privateKeyFile: String? = nil,
                keyDirectory: String = ".data/keys", bcryptCost: UInt8 = 12) {
        self.issuer = issuer
        self.audience = audience
        self.accessLifetime = accessLifetime
        self.refreshLifetime = refreshLifetime
        self.privateKeyFile = privateKeyFile
        self.keyDirectory = keyDirectory
        self.bcryptCost = bcryptCost
    }
}
