import Crypto
import Foundation
import PostgresNIO

/// A random bearer secret (refresh token, email token) and the SHA-256 digest that is stored
/// instead of it: a database leak yields no usable token.
public struct SecretToken: Sendable, Equatable {
    /// What the client holds: 32 random bytes, base64url without padding.
    public let value: String

    /// A new random token.
    public static func generate() -> SecretToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return SecretToken(value: Base64URL.encode(Data(bytes)))
    }

    public init(value: String) {
        self.value = value
    }

    /// The stored form (`bytea`).
    public var hash: ByteBuffer { ByteBuffer(bytes: SHA256.hash(data: Data(value.utf8))) }
}

/// base64url without padding (RFC 4648 §5), as tokens and JWKs use it.
public enum Base64URL {
    public static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
