import Foundation
import Queue

/// The event types a webhook can subscribe to.
public enum WebhookEvents {
    public static let catalogue = [
        "video.completed", "video.failed", "video.cancelled", "video.published", "batch.completed", "report.ready", "report.failed",
        "quota.warning", "quota.exhausted", "cost.limit_reached", "account.auth_expired",
        "subscription.updated", "payment.succeeded", "payment.failed", "webhook.test",
    ]
}

/// How webhooks are delivered: the retry schedule, timeouts and limits. All configuration,
/// so tests run them fast.
public struct WebhookPolicy: Sendable, Equatable {
    /// Waits before each retry after the first attempt (jittered by up to 10%).
    public var schedule: [Duration] = [.seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18_000), .seconds(36_000), .seconds(36_000)]
    /// The most one attempt may take.
    public var timeout: Duration = .seconds(15)
    /// Attempts in flight at once per endpoint, so one slow receiver cannot take every sender.
    public var concurrencyPerEndpoint = 4
    /// An endpoint whose every attempt has failed for this long is disabled and its owner told.
    public var disableAfter: Duration = .seconds(3 * 86_400)
    /// Bytes of a receiver's answer kept in the delivery log.
    public var responseLimit = 1024
    /// Plain http and loopback or private addresses (the embedded default and tests); https
    /// to public hosts only otherwise.
    public var allowInsecureURLs = false

    public init() {}

    /// The wait before retry number `attempt` (1 = the first retry), or nil when the schedule is spent.
    public func retryDelay(after attempt: Int) -> Duration? {
        guard attempt >= 1, attempt <= schedule.count else { return nil }
        let base = schedule[attempt - 1].seconds
        // A schedule comes from configuration: still, no wait beyond ten years.
        return .milliseconds(Int64(min(base * Double.random(in: 1.0...1.1), 3.2e8) * 1000))
    }

    /// Checks a receiver URL.
    /// - Throws: `invalid` naming the problem.
    public func validate(url text: String) throws -> URL {
        let malformed = DomainError(.invalid, "url must be an absolute http(s) URL: a host name or IP address, an optional port, a plain path and query",
                                    field: "url")
        guard text.count <= 2048, let shape = text.wholeMatch(of: Self.shape), let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              let host = url.host, !host.isEmpty else {
            throw malformed
        }
        // A bracketed host must be an IPv6 address, and a port a real one.
        if shape.output.1.hasPrefix("[") {
            guard case .v6? = NetworkAddress(numericHost: String(shape.output.1)) else { throw malformed }
        }
        if let port = shape.output.2.flatMap({ Int($0.dropFirst()) }), !(1...65_535).contains(port) { throw malformed }
        guard scheme == "https" || (scheme == "http" && allowInsecureURLs) else {
            throw DomainError(.invalid, allowInsecureURLs ? "url must use http or https" : "url must use https", field: "url")
        }
        guard url.user == nil, url.password == nil else { throw DomainError(.invalid, "url must not carry credentials", field: "url") }
        if !allowInsecureURLs, !Self.mayBePublic(host: host.lowercased()) {
            throw DomainError(.invalid, "url must point to a public host, not a loopback or private address", field: "url")
        }
        return url
    }

    /// What a receiver URL may look like (the contract's pattern for `url`): no userinfo, no
    /// fragment, a host of letters, digits, dots and hyphens or a bracketed IPv6 address.
    static var shape: Regex<(Substring, Substring, Substring?, Substring?, Substring?)> { #/[hH][tT][tT][pP][sS]?://([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?([?][A-Za-z0-9._~=&-]*)?/# }

    /// The friendly early check when a URL is saved: a numeric host (in any form the
    /// resolver reads) must be globally reachable, and names that only ever mean a machine
    /// inside the network are refused. Names are checked again, resolved, where the
    /// connection is made (`OutboundAddressGuard`), which is what protects the network.
    static func mayBePublic(host: String) -> Bool {
        if let address = NetworkAddress(numericHost: host) { return address.isGloballyReachable }
        let name = host.hasSuffix(".") ? String(host.dropLast()) : host
        guard name.contains("."), !name.hasPrefix("[") else { return false }
        let internalSuffixes = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".in-addr.arpa", ".ip6.arpa"]
        return !internalSuffixes.contains { name.hasSuffix($0) }
    }
}
