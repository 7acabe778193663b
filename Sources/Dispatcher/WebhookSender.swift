import AsyncHTTPClient
import Domain
import Foundation
import NIOCore

/// Sends one signed delivery attempt over async-http-client, per Standard Webhooks:
/// `webhook-id` (the delivery's, the same on every attempt), `webhook-timestamp` and
/// `webhook-signature`. Never throws: what happened is the result.
public struct WebhookSender: Sendable {
    public var timeout: Duration
    /// Bytes of the answer kept.
    public var responseLimit: Int
    let client: HTTPClient

    public init(timeout: Duration, responseLimit: Int, client: HTTPClient = .shared) {
        self.timeout = timeout
        self.responseLimit = responseLimit
        self.client = client
    }

    public func send(_ attempt: WebhookAttempt, now: Date = Date()) async -> WebhookAttemptResult {
        let timestamp = Int(now.timeIntervalSince1970)
        let body = Data(attempt.body.utf8)
        var request = HTTPClientRequest(url: attempt.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "YTEmpire-Webhooks/1.0")
        request.headers.add(name: "webhook-id", value: attempt.deliveryID)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature",
                            value: StandardWebhooks.signature(id: attempt.deliveryID, timestamp: timestamp, body: body, secret: attempt.secret))
        request.body = .bytes(ByteBuffer(bytes: body))
        let started = ContinuousClock.now
        func elapsed() -> Int { Int((ContinuousClock.now - started).seconds * 1000) }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            var kept = Data()
            for try await chunk in response.body where kept.count < responseLimit {
                kept.append(contentsOf: chunk.readableBytesView.prefix(responseLimit - kept.count))
            }
            return WebhookAttemptResult(statusCode: Int(response.status.code), latencyMilliseconds: elapsed(),
                                        responseBody: String(decoding: kept, as: UTF8.self), error: nil,
                                        retryAfter: response.headers.first(name: "retry-after").flatMap(RetryAfter.parse))
        } catch {
            return WebhookAttemptResult(statusCode: nil, latencyMilliseconds: elapsed(), responseBody: nil,
                                        error: String(describing: error).prefix(300).description, retryAfter: nil)
        }
    }
}
