package import Foundation
import Domain
import Crypto
import JWTKit
import _CryptoExtras

/// The claims of an access token.
struct AccessClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var aud: AudienceClaim
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var jti: IDClaim
    /// The session (login) the token belongs to; revoking it ends the token.
    var sid: String
    /// Present and true for an operator when the token was issued: the console shows its
    /// pages by it, while every admin request checks the database again.
    var op: Bool?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Signs and verifies RS256 access tokens and publishes the public key as a JWKS.
///
/// Only RS256 with this key verifies: `alg: none`, HMAC algorithms, other keys, another
/// audience or issuer, and expired tokens are refused.
struct TokenSigner: Sendable {
    let keys: JWTKeyCollection
    let kid: String
    let configuration: AuthConfiguration
    /// `{"keys": [...]}` for `/.well-known/jwks.json`.
    let jwks: String

    /// Loads the configured key, or the generated one, generating it on first start.
    static func load(_ configuration: AuthConfiguration) async throws -> TokenSigner {
        let pem: String
        if let file = configuration.privateKeyFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError("JWT private key file \(file) cannot be read")
            }
            pem = text
        } else {
            pem = try generatedKey(in: configuration.keyDirectory)
        }
        let key: JWTKit.Insecure.RSA.PrivateKey
        do { key = try JWTKit.Insecure.RSA.PrivateKey(pem: pem) } catch {
            throw ConfigurationError("JWT private key is not an RSA private key in PEM form")
        }
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        let kid = String(Base64URL.encode(Data(SHA256.hash(data: modulus))).prefix(16))
        let keys = JWTKeyCollection()
        await keys.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        let jwk: [String: String] = ["kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                                     "n": Base64URL.encode(modulus), "e": Base64URL.encode(exponent)]
        let data = try JSONSerialization.data(withJSONObject: ["keys": [jwk]], options: [.sortedKeys])
        return TokenSigner(keys: keys, kid: kid, configuration: configuration, jwks: String(decoding: data, as: UTF8.self))
    }

    /// Reads `jwt-private.pem` from `directory`, creating a 2048-bit key there once if absent.
    private static func generatedKey(in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent("jwt-private.pem")
        let data = try KeyFile.readOrCreate(path) { Data(try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation.utf8) }
        return String(decoding: data, as: UTF8.self)
    }

    /// A signed access token for a user's session.
    func issue(userID: String, sessionID: String, isOperator: Bool = false) async throws -> String {
        let now = Date()
        let claims = AccessClaims(
            iss: .init(value: configuration.issuer), aud: .init(value: [configuration.audience]), sub: .init(value: userID),
            exp: .init(value: now.addingTimeInterval(configuration.accessLifetime.seconds)), iat: .init(value: now),
            jti: .init(value: PrefixedID.make("jti_")), sid: sessionID, op: isOperator ? true : nil)
        return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
    }

    /// The claims of a valid token; nil for any token this server would not have issued.
    func verify(_ token: String) async -> AccessClaims? {
        guard let claims = try? await keys.verify(token, as: AccessClaims.self),
              claims.iss.value == configuration.issuer,
              claims.aud.value.contains(configuration.audience)
        else { return nil }
        return claims
    }
}

/// A setting is missing or wrong; the process refuses to start and names it.
public struct ConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
