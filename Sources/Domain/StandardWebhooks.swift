import Crypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): the signature is
/// `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")), the key being the secret's bytes
/// (`whsec_` + base64 secrets decode to them; any other secret is used as its UTF-8 bytes).
public enum StandardWebhooks {
    /// A new secret: `whsec_` and the base64 of 32 random bytes.
    public static func makeSecret() -> String {
        "whsec_" + SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    /// The signing key of a secret.
    public static func key(of secret: String) -> Data {
        if secret.hasPrefix("whsec_"), let decoded = Data(base64Encoded: String(secret.dropFirst("whsec_".count))), !decoded.isEmpty {
            return decoded
        }
        return Data(secret.utf8)
    }

    /// The `webhook-signature` header value.
    public static func signature(id: String, timestamp: Int, body: Data, secret: String) -> String {
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key(of: secret)))
        return "v1," + Data(mac).base64EncodedString()
    }
}
