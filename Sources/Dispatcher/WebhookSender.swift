import AsyncHTTPClient
import Domain
import Foundation
import NIOCore

/// Sends one signed delivery attempt, per Standard Webhooks: `webhook-id` (the delivery's,
/// the same on every attempt), `webhook-timestamp` and `webhook-signature`. Never throws:
/// what happened is the result.
///
/// A receiver URL is a user's input, so each attempt goes through `addresses`: the host is
/// resolved and checked where the connection is made, and the connection goes to the address
/// that was checked. Redirects are never followed (a 3xx is a failed attempt), and errors say
/// no more than `refused`, `connectionFailed` or `timedOut`, so the delivery log cannot be
/// used to probe the network.
public struct WebhookSender: Sendable {
    public var timeout: Duration
    /// Bytes of the answer kept.
    public var responseLimit: Int
    /// Where connections may go.
    public let addresses: OutboundAddressGuard

    /// A host that is, or resolves to, an address that is not allowed, or does not resolve:
    /// one message for both, so the log does not tell which internal names exist.
    public static let refused = "refused: address not allowed or not resolvable"
    public static let connectionFailed = "connection failed"
    public static let timedOut = "timed out"

    public init(timeout: Duration, responseLimit: Int, addresses: OutboundAddressGuard) {
        self.timeout = timeout
        self.responseLimit = responseLimit
        self.addresses = addresses
    }

    public func send(_ attempt: WebhookAttempt, now: Date = Date()) async -> WebhookAttemptResult {
        let started = ContinuousClock.now
        func failure(_ message: String) -> WebhookAttemptResult { Self.failure(message, since: started) }
        guard let url = URL(string: attempt.url), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let rawHost = url.host, !rawHost.isEmpty else {
            return failure("the endpoint's url is not an absolute http(s) URL")
        }
        // The host as the HTTP client reads it (IPv6 without brackets).
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        let address: NetworkAddress
        switch await addresses.decide(host: host) {
        case .connect(let checked): address = checked
        case .refused, .unresolvable: return failure(Self.refused)
        }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration(host: host, address: address))
        let result = await send(attempt, through: client, now: now, started: started)
        try? await client.shutdown()
        return result
    }

    /// A client for one attempt: it connects only to `address` (the name is still used for
    /// the `Host` header, TLS's SNI and certificate checks), follows no redirect and gives
    /// up after `timeout`.
    private func configuration(host: String, address: NetworkAddress) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(min(timeout, .seconds(10))), read: TimeAmount(timeout)),
            connectionPool: .init(idleTimeout: .seconds(1), concurrentHTTP1ConnectionsPerHostSoftLimit: 1),
            proxy: nil,
            ignoreUncleanSSLShutdown: false,
            decompression: .disabled)
        configuration.dnsOverride = [host: address.description, "[\(host)]": address.description]
        return configuration
    }

    private func send(_ attempt: WebhookAttempt, through client: HTTPClient, now: Date, started: ContinuousClock.Instant) async -> WebhookAttemptResult {
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
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            var kept = Data()
            for try await chunk in response.body where kept.count < responseLimit {
                kept.append(contentsOf: chunk.readableBytesView.prefix(responseLimit - kept.count))
            }
            return WebhookAttemptResult(statusCode: Int(response.status.code), latencyMilliseconds: Self.milliseconds(ContinuousClock.now - started),
                                        responseBody: String(decoding: kept, as: UTF8.self), error: nil,
                                        retryAfter: response.headers.first(name: "retry-after").flatMap(RetryAfter.parse))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return Self.failure(Self.timedOut, since: started)
        } catch {
            return Self.failure(Self.connectionFailed, since: started)
        }
    }

    /// An attempt that got no answer, with the time it took.
    private static func failure(_ message: String, since started: ContinuousClock.Instant) -> WebhookAttemptResult {
        WebhookAttemptResult(statusCode: nil, latencyMilliseconds: milliseconds(ContinuousClock.now - started), responseBody: nil,
                             error: message, retryAfter: nil)
    }

    /// Whole milliseconds of a duration, clamped to what an `Int` holds.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        guard seconds < Int64.max / 1000, seconds > Int64.min / 1000 else { return seconds > 0 ? Int.max : Int.min }
        return Int(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
