import ArgumentParser
import Domain
import Foundation
import Logging
import PostgresNIO
import Providers
import Queue

/// Payments' configuration from the environment, read once at start-up:
/// - `YTEMPIRE_STRIPE_SECRET_KEY`: Stripe's secret key; talks to `YTEMPIRE_STRIPE_API_URL`
///   (default `https://api.stripe.com`), and verifies Stripe's webhooks with
///   `YTEMPIRE_STRIPE_WEBHOOK_SECRET` (comma-separated while a secret is rolled);
/// - otherwise, for `ytempire up` only, the Stripe sandbox inside the process on
///   `YTEMPIRE_STRIPE_SANDBOX_PORT` (default 12111), its state kept in
///   `YTEMPIRE_STRIPE_SANDBOX_STATE` (default `.data/stripe-sandbox.json`), its signed events
///   sent to this API's webhook; other
///   processes then run without payments (the payment routes answer 503);
/// - `YTEMPIRE_STRIPE_TEST_CLOCKS=1` (test keys only): each new customer on a test clock of
///   its own, so renewals and dunning can be played forward;
/// - `YTEMPIRE_PAYMENT_GRACE`: how long a past-due account may still submit (default `7d`).
struct StripeSettings {
    var gateway: StripeGateway?
    var webhookSecrets: [String] = []
    var payment = PaymentSettings()
    /// The sandbox this process runs itself: its port, state file and webhook address.
    var embeddedSandbox: (port: Int, stateFile: URL, webhookURL: String)?

    static let sandboxKey = "sk_test_sandbox"
    static let sandboxWebhookSecret = "whsec_sandbox_embedded"

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment, apiPort: Int = 8000,
                                embedded: Bool) throws -> StripeSettings {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        var settings = StripeSettings()
        if let grace = value("YTEMPIRE_PAYMENT_GRACE") {
            guard let parsed = DurationText.parse(grace) else {
                throw ValidationError("YTEMPIRE_PAYMENT_GRACE: '\(grace)' is not a duration like 7d, 36h or 0s")
            }
            settings.payment.grace = parsed
        }
        let testClocks = value("YTEMPIRE_STRIPE_TEST_CLOCKS").map { ["1", "true", "yes"].contains($0.lowercased()) } ?? false
        if let key = value("YTEMPIRE_STRIPE_SECRET_KEY") {
            let url = value("YTEMPIRE_STRIPE_API_URL") ?? "https://api.stripe.com"
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                throw ValidationError("YTEMPIRE_STRIPE_API_URL must be an http(s) URL (got '\(url)')")
            }
            guard !testClocks || key.hasPrefix("sk_test_") else { throw ValidationError("YTEMPIRE_STRIPE_TEST_CLOCKS needs a test key (sk_test_…)") }
            settings.gateway = StripeGateway(stripe: StripeClient(baseURL: url, secretKey: key), testClocks: testClocks)
            settings.webhookSecrets = value("YTEMPIRE_STRIPE_WEBHOOK_SECRET")?.split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } ?? []
        } else if embedded {
            let port = try environmentNumber("YTEMPIRE_STRIPE_SANDBOX_PORT", 1...65535, in: environment) ?? 12111
            settings.embeddedSandbox = (port, URL(fileURLWithPath: value("YTEMPIRE_STRIPE_SANDBOX_STATE") ?? ".data/stripe-sandbox.json"),
                                        "http://127.0.0.1:\(apiPort)/api/v1/payment/webhook")
            settings.gateway = StripeGateway(stripe: StripeClient(baseURL: "http://127.0.0.1:\(port)", secretKey: sandboxKey), testClocks: testClocks)
            settings.webhookSecrets = [sandboxWebhookSecret]
        }
        return settings
    }

    /// The payments service, or nil when no provider is configured.
    func payments(client: PostgresClient, logger: Logger) -> Payments? {
        gateway.map { Payments(client: client, gateway: $0, settings: payment, logger: logger) }
    }
}
