import Crypto
import Foundation

/// Seals secrets at rest (OAuth tokens) with AES-256-GCM. Each value is bound to its row
/// (`context`, authenticated but not encrypted), so a sealed token copied to another
/// account's row does not open.
public struct TokenCipher: Sendable {
    let key: SymmetricKey

    /// - Parameter key: 32 bytes.
    public init(key: Data) throws {
        guard key.count == 32 else { throw KeyFileError(description: "the token encryption key must be 32 bytes (got \(key.count))") }
        self.key = SymmetricKey(data: key)
    }

    /// The key from `YTEMPIRE_TOKEN_KEY` (base64 of 32 bytes) when given, else one generated
    /// once into `directory/token-key`.
    public static func configured(base64: String?, directory: String) throws -> TokenCipher {
        if let base64, !base64.isEmpty {
            guard let key = Data(base64Encoded: base64) else { throw KeyFileError(description: "YTEMPIRE_TOKEN_KEY is not base64") }
            return try TokenCipher(key: key)
        }
        let path = (directory as NSString).appendingPathComponent("token-key")
        return try TokenCipher(key: KeyFile.readOrCreate(path) { SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) } })
    }

    /// A cipher with a random key that lives as long as the process (tests, and an API
    /// instance nobody else needs to read secrets of).
    public static func ephemeral() throws -> TokenCipher {
        try TokenCipher(key: SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
    }

    /// Nonce, ciphertext and tag in one value.
    public func seal(_ secret: String, context: String) throws -> Data {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw KeyFileError(description: "AES-GCM produced no combined value") }
        return combined
    }

    /// - Throws: when the value was not sealed with this key for this context.
    public func open(_ sealed: Data, context: String) throws -> String {
        let box = try AES.GCM.SealedBox(combined: sealed)
        return String(decoding: try AES.GCM.open(box, using: key, authenticating: Data(context.utf8)), as: UTF8.self)
    }
}
