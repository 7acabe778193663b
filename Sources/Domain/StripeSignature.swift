import Crypto
import Foundation

/// Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`, each
/// `v1` the lowercase hex HMAC-SHA256 of `"{t}.{raw body}"` keyed with the endpoint secret's
/// UTF-8 bytes (`whsec_…` used as it is). Several `v1` appear while a rolled secret's
/// predecessor is still live; `v0` and unknown schemes are ignored.
public enum StripeSignature {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// No `t=` or no `v1=` in the header, or a malformed one.
        case malformed
        /// `t` is older than the tolerance allows (a replay).
        case tooOld
        /// No `v1` matches any of the secrets.
        case mismatch

        public var description: String {
            switch self {
            case .malformed: "the Stripe-Signature header is malformed"
            case .tooOld: "the Stripe-Signature timestamp is outside the tolerance"
            case .mismatch: "no Stripe-Signature matches the webhook secret"
            }
        }
    }

    /// Checks `header` against `payload` under any of `secrets` (several during rotation).
    /// - Returns: the signed timestamp.
    @discardableResult
    public static func verify(payload: Data, header: String, secrets: [String], tolerance: TimeInterval = 300,
                              now: Date = Date()) throws(Failure) -> Int {
        var timestamp: Int?
        var signatures: [Data] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t" where timestamp == nil: timestamp = Int(pair[1])
            case "v1": if let bytes = hexBytes(pair[1]) { signatures.append(bytes) }
            default: continue
            }
        }
        guard let timestamp, !signatures.isEmpty, !secrets.isEmpty else { throw .malformed }
        guard Double(timestamp) >= now.timeIntervalSince1970 - tolerance else { throw .tooOld }
        var signed = Data("\(timestamp).".utf8)
        signed.append(payload)
        for secret in secrets {
            let key = SymmetricKey(data: Data(secret.utf8))
            // isValidAuthenticationCode compares in constant time.
            if signatures.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }) {
                return timestamp
            }
        }
        throw .mismatch
    }

    /// The header Stripe would send for `payload` at `timestamp` (tests and the sandbox).
    public static func header(payload: Data, secret: String, timestamp: Int) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(payload)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// 64 hex digits as 32 bytes; nil for anything else.
    static func hexBytes(_ text: String) -> Data? {
        guard text.count == 64 else { return nil }
        var bytes = Data(capacity: 32)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
