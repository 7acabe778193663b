import ArgumentParser
import Domain
import Foundation

/// Secrets at rest and webhook delivery from the environment, read once at start-up:
/// - `YTEMPIRE_TOKEN_KEY`: base64 of the 32-byte key sealing OAuth tokens and webhook secrets
///   (default: one generated once into `YTEMPIRE_KEY_DIR`, default `.data/keys`); every
///   process of a fleet needs the same key;
/// - `YTEMPIRE_WEBHOOK_SCHEDULE`: the waits before retries (default `5s,5m,30m,2h,5h,10h,10h`);
/// - `YTEMPIRE_WEBHOOK_TIMEOUT` (`15s`), `YTEMPIRE_WEBHOOK_CONCURRENCY` per endpoint (4),
///   `YTEMPIRE_WEBHOOK_DISABLE_AFTER` (`72h`), `YTEMPIRE_WEBHOOK_RETENTION` of finished
///   deliveries (`720h`);
/// - `YTEMPIRE_WEBHOOK_ALLOW_INSECURE`: `1` allows http and loopback or private receivers
///   (default: on for `ytempire up`, off elsewhere).
struct WebhookSettings {
    var policy = WebhookPolicy()
    var retention: Duration = .seconds(30 * 86_400)
    var cipher: TokenCipher

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment, embedded: Bool) throws -> WebhookSettings {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func duration(_ name: String, _ text: String) throws -> Duration {
            guard let parsed = DurationArgument(argument: text.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("\(name): '\(text)' is not a duration like 250ms, 5s, 2m or 1h")
            }
            return parsed.duration
        }
        let cipher: TokenCipher
        do { cipher = try TokenCipher.configured(base64: value("YTEMPIRE_TOKEN_KEY"), directory: value("YTEMPIRE_KEY_DIR") ?? ".data/keys") } catch {
            throw ValidationError("YTEMPIRE_TOKEN_KEY: \(error)")
        }
        var settings = WebhookSettings(cipher: cipher)
        if let schedule = value("YTEMPIRE_WEBHOOK_SCHEDULE") {
            settings.policy.schedule = try schedule.split(separator: ",").map { try duration("YTEMPIRE_WEBHOOK_SCHEDULE", String($0)) }
        }
        if let timeout = value("YTEMPIRE_WEBHOOK_TIMEOUT") { settings.policy.timeout = try duration("YTEMPIRE_WEBHOOK_TIMEOUT", timeout) }
        if let limit = value("YTEMPIRE_WEBHOOK_DISABLE_AFTER") { settings.policy.disableAfter = try duration("YTEMPIRE_WEBHOOK_DISABLE_AFTER", limit) }
        if let retention = value("YTEMPIRE_WEBHOOK_RETENTION") { settings.retention = try duration("YTEMPIRE_WEBHOOK_RETENTION", retention) }
        if let slots = try environmentNumber("YTEMPIRE_WEBHOOK_CONCURRENCY", 1...100, in: environment) {
            settings.policy.concurrencyPerEndpoint = slots
        }
        settings.policy.allowInsecureURLs = value("YTEMPIRE_WEBHOOK_ALLOW_INSECURE").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? embedded
        return settings
    }
}
