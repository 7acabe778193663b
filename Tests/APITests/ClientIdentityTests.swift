@testable import API
import Domain
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Prometheus
import TestSupport
import Testing

/// Who a client is for rate limits: the peer, or behind a trusted proxy the right-most
/// untrusted `X-Forwarded-For` address; IPv6 clients by their /64. And failed logins counted
/// per email, wherever they come from.
@Suite struct ClientIdentityTests {
    static let proxies = try! TrustedProxies(parsing: "127.0.0.0/8, 10.0.0.0/8, fd00::/8")

    @Test(arguments: [
        // Not from a trusted proxy: the peer, whatever the header says.
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
        // From a trusted proxy: the right-most address no trusted proxy owns.
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["1.2.3.4, 198.51.100.7, 10.1.2.3"], "198.51.100.7"),
        ("127.0.0.1", ["1.2.3.4", "198.51.100.7, 10.1.2.3"], "198.51.100.7"),
        // Only proxies in the chain: the left-most of them.
        ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),
        // No header, or garbage in it: the last address believed.
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.7, garbage, 10.1.2.3"], "10.1.2.3"),
        // IPv6 clients are grouped by /64; mapped IPv4 is IPv4.
        ("127.0.0.1", ["2001:db8:1:2::1"], "2001:db8:1:2::/64"),
        ("127.0.0.1", ["2001:db8:1:2:ffff:ffff:ffff:ffff"], "2001:db8:1:2::/64"),
        ("2001:db8:aa:bb::5", [], "2001:db8:aa:bb::/64"),
        ("::ffff:127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
    ])
    func theClientIsTheRightMostUntrustedAddress(peer: String, forwardedFor: [String], expected: String) {
        #expect(Self.proxies.client(peer: peer, forwardedFor: forwardedFor) == expected)
    }

    @Test func badProxyListsAreRefused() {
        #expect(throws: DomainError.self) { try TrustedProxies(parsing: "10.0.0.0/33") }
        #expect(throws: DomainError.self) { try TrustedProxies(parsing: "proxy.internal") }
        #expect((try? TrustedProxies(parsing: ""))?.networks.isEmpty == true)
    }

    /// Runs the API on a loopback socket (so requests have a peer, 127.0.0.1).
    func withLiveAPI(_ db: TestDatabase, rateLimits: RateLimitPolicy, trusted: TrustedProxies,
                     _ body: @Sendable (APIClient) async throws -> Void) async throws {
        let router = try await APIServer.makeRouters(client: db.client, registry: PrometheusCollectorRegistry(), version: "test",
                                                    auth: TestAuth.configuration, rateLimits: rateLimits, trustedProxies: trusted,
                                                    logger: db.logger).http
        try await Application(router: router).test(.live) { client in try await body(APIClient(client: client)) }
    }

    @Test func behindATrustedProxyEachForwardedClientHasItsOwnLimit() async throws {
        var limits = TestAuth.generousLimits
        limits.authentication = .init(requests: 2, window: TestAuth.longWindow)
        try await withDatabase { db in
            try await withLiveAPI(db, rateLimits: limits, trusted: Self.proxies) { api in
                func attempt(from forwarded: String) async throws -> HTTPResponse.Status {
                    try await api.call(.post, "/auth/login", json: ["email": "nobody@example.com", "password": "Wrong-password-1"],
                                       headers: [HTTPField.Name("X-Forwarded-For")!: forwarded]).status
                }
                let first = [try await attempt(from: "203.0.113.5"), try await attempt(from: "203.0.113.5")]
                #expect(first == [.unauthorized, .unauthorized])
                // A spoofed left part does not make a new client.
                let third = try await attempt(from: "9.9.9.9, 203.0.113.5")
                #expect(third == .tooManyRequests)
                let other = try await attempt(from: "203.0.113.6")
                #expect(other == .unauthorized, "another client has its own window")
                // Two addresses of one /64 are one client.
                let v6 = [try await attempt(from: "2001:db8:7:7::1"), try await attempt(from: "2001:db8:7:7::2"),
                          try await attempt(from: "2001:db8:7:7::3")]
                #expect(v6 == [.unauthorized, .unauthorized, .tooManyRequests])
            }
            // Without trusted proxies the header is ignored: every request is the peer's.
            try await db.client.query("DELETE FROM rate_limit_windows", logger: db.logger)
            try await withLiveAPI(db, rateLimits: limits, trusted: TrustedProxies()) { api in
                var statuses: [HTTPResponse.Status] = []
                for index in 0..<3 {
                    statuses.append(try await api.call(.post, "/auth/login", json: ["email": "nobody@example.com", "password": "Wrong-password-1"],
                                                       headers: [HTTPField.Name("X-Forwarded-For")!: "198.51.100.\(index)"]).status)
                }
                #expect(statuses == [.unauthorized, .unauthorized, .tooManyRequests])
            }
        }
    }

    @Test func failedLoginsAreLimitedPerEmailWhereverTheyComeFrom() async throws {
        var limits = TestAuth.generousLimits
        limits.failedLoginsPerEmail = .init(requests: 3, window: TestAuth.longWindow)
        try await withDatabase { db in
            try await withLiveAPI(db, rateLimits: limits, trusted: Self.proxies) { api in
                let password = "CorrectHorse42battery"
                #expect(try await api.call(.post, "/auth/register", json: ["email": "target@example.com", "password": password,
                                                                          "full_name": "Target"]).status == .created)
                var statuses: [HTTPResponse.Status] = []
                for index in 0..<3 {
                    statuses.append(try await api.call(.post, "/auth/login", json: ["email": "target@example.com", "password": "Guess-\(index)-horse"],
                                                       headers: [HTTPField.Name("X-Forwarded-For")!: "198.51.100.\(index)"]).status)
                }
                #expect(statuses == [.unauthorized, .unauthorized, .unauthorized])
                // Locked for this window, even with the right password, from a fresh address.
                let locked = try await api.call(.post, "/auth/login", json: ["email": "TARGET@example.com", "password": password],
                                                headers: [HTTPField.Name("X-Forwarded-For")!: "192.0.2.200"])
                #expect(locked.status == .tooManyRequests)
                #expect(locked.headers[.retryAfter] != nil)
                // Guesses sent at once cannot all pass a count none of them has written yet.
                let burst = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<12 {
                        group.addTask {
                            try await api.call(.post, "/auth/login", json: ["email": "burst@example.com", "password": "Guess-\(index)-horse"]).status
                        }
                    }
                    return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
                }
                #expect(burst.filter { $0 == .unauthorized }.count == 3 && burst.filter { $0 == .tooManyRequests }.count == 9, "\(burst)")
                // Another account is not affected.
                #expect(try await api.call(.post, "/auth/register", json: ["email": "other@example.com", "password": password,
                                                                          "full_name": "Other"]).status == .created)
                #expect(try await api.call(.post, "/auth/login", json: ["email": "other@example.com", "password": password]).status == .ok)
            }
        }
    }
}
