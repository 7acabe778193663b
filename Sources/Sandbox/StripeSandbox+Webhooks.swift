import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// Sends recorded events to the configured endpoint as Stripe does: `POST` of the event JSON,
/// `Stripe-Signature: t=…,v1=…` (HMAC-SHA256 of `"{t}.{body}"` with the endpoint secret, a
/// fresh `t` on every attempt), at least once and in no promised order; a non-2xx answer or
/// a timeout is retried after `webhookRetryDelays`.
extension StripeSandbox {
    /// The `Stripe-Signature` header for `body` signed at `timestamp` (the sandbox cannot use
    /// Domain's `StripeSignature`: it depends on nothing of the product).
    static func signature(body: Data, secret: String, timestamp: Int) -> String {
        var signed = Data("\(timestamp).".utf8)
        signed.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// How many events still wait for delivery.
    public var undeliveredEvents: Int { state.withLock { $0.events.filter { !$0.delivered }.count } }

    func deliverDueEvents(with http: HTTPClient) async {
        guard let url = configuration.webhookURL else { return }
        let now = configuration.now()
        let due = state.withLock { state in
            state.events.filter { !$0.delivered && $0.nextAttempt <= now && $0.attempts <= configuration.webhookRetryDelays.count }
        }
        for event in due {
            let body = (try? JSONSerialization.data(withJSONObject: render(event), options: [.sortedKeys])) ?? Data()
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
            request.headers.add(name: "Stripe-Signature",
                                value: Self.signature(body: body, secret: configuration.webhookSecret, timestamp: Int(Date().timeIntervalSince1970)))
            request.body = .bytes(ByteBuffer(bytes: body))
            var delivered = false
            do {
                let response = try await http.execute(request, timeout: .seconds(10))
                delivered = (200..<300).contains(response.status.code)
                _ = try? await response.body.collect(upTo: 64 << 10)
            } catch {
                logger.debug("webhook delivery failed", metadata: ["event": "\(event.id)", "error": "\(error)"])
            }
            let delays = configuration.webhookRetryDelays
            mutate { state in
                guard let index = state.events.firstIndex(where: { $0.id == event.id }) else { return }
                state.events[index].attempts += 1
                state.events[index].delivered = delivered || state.events[index].attempts > delays.count
                let attempt = state.events[index].attempts
                if !delivered, attempt <= delays.count {
                    state.events[index].nextAttempt = configuration.now().addingTimeInterval(delays[attempt - 1].seconds)
                }
            }
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
