import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A loopback endpoint that records what Stripe (the sandbox) POSTs to it: each body as it
/// came and its `Stripe-Signature` header. It answers 500 to the first `failFirst` requests,
/// to make the sender retry.
public final class StripeWebhookReceiver: Sendable {
    public struct Received: Sendable {
        public var signature: String
        public var body: Data
    }

    private let state: Mutex<(received: [Received], failuresLeft: Int)>

    public init(failFirst: Int = 0) { state = Mutex(([], failFirst)) }

    public var received: [Received] { state.withLock { $0.received } }

    /// The event types received, in arrival order (retried deliveries included).
    public var types: [String] {
        received.compactMap { (try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any])?["type"] as? String }
    }

    /// Runs the receiver while `body` runs; `body` gets the endpoint's URL.
    public func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/stripe") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            let signature = request.headers[HTTPField.Name("Stripe-Signature")!] ?? ""
            let fail = self.state.withLock { state -> Bool in
                state.received.append(Received(signature: signature, body: Data(buffer: bytes)))
                guard state.failuresLeft > 0 else { return false }
                state.failuresLeft -= 1
                return true
            }
            return Response(status: fail ? .internalServerError : .ok)
        }
        return try await withLoopbackServer(router, label: "stripe-webhooks") { base in try await body(base + "/stripe") }
    }
}
