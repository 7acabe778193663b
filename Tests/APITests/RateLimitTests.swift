@testable import API
import Domain
import Foundation
import HummingbirdTesting
import TestSupport
import Testing

@Suite struct RateLimitTests {
    @Test func authenticationReaches429WithHeadersAndRetryAfter() async throws {
        try await withDatabase { db in
            var policy = RateLimitPolicy()
            // A day's window: the count cannot restart at a window boundary in the middle of the test.
            policy.authentication = .init(requests: 3, window: TestAuth.longWindow)
            try await withAPI(db, rateLimits: policy) { api in
                for attempt in 1...3 {
                    let reply = try await api.call(.post, "/auth/login", json: ["email": "a@example.com", "password": "WrongPassword1"])
                    #expect(reply.status == .unauthorized)
                    #expect(reply.headers[.xRateLimitLimit] == "3")
                    #expect(reply.headers[.xRateLimitRemaining] == String(3 - attempt))
                    #expect(reply.headers[.rateLimitPolicy] == "3;w=\(TestAuth.longWindow.components.seconds)")
                }
                let limited = try await api.call(.post, "/auth/login", json: ["email": "a@example.com", "password": "WrongPassword1"])
                #expect(limited.status == .tooManyRequests)
                #expect(try (limited.decode(Components.Schemas.ErrorEnvelope.self).error) == "rate_limit_exceeded")
                let retryAfter = try #require(try limited.decode(Components.Schemas.ErrorEnvelope.self).retryAfter)
                #expect((1...Int(TestAuth.longWindow.components.seconds)).contains(retryAfter))
                #expect(limited.headers[.retryAfter] == String(retryAfter))
                #expect(limited.headers[.xRateLimitRemaining] == "0")
                // Health checks are never limited.
                #expect(try await api.call(.get, "/health").status == .ok)
            }
        }
    }

    @Test func limitsArePerUserAndSharedAcrossInstances() async throws {
        try await withDatabase { db in
            var policy = TestAuth.generousLimits
            policy.general = .init(requests: 2, window: TestAuth.longWindow)
            let password = "CorrectHorse42battery"
            let tokens = try await withAPI(db, rateLimits: policy) { api in
                var tokens: [String] = []
                for email in ["one@example.com", "two@example.com"] {
                    _ = try await api.call(.post, "/auth/register", json: ["email": email, "password": password, "full_name": "N"])
                    let login = try await api.call(.post, "/auth/login", json: ["email": email, "password": password])
                    tokens.append(try login.decode(Components.Schemas.TokenResponse.self).accessToken)
                }
                return tokens
            }
            let (first, second) = (tokens[0], tokens[1])
            // Two separate API instances share the counters through Postgres.
            let onA = try await withAPI(db, rateLimits: policy) { api in
                try await api.call(.get, "/users/profile", token: first).status
            }
            #expect(onA == .ok)
            let onB = try await withAPI(db, rateLimits: policy) { api in
                [try await api.call(.get, "/users/profile", token: first).status,
                 try await api.call(.get, "/users/profile", token: first).status,
                 try await api.call(.get, "/users/profile", token: second).status]
            }
            #expect(onB == [.ok, .tooManyRequests, .ok], "the third call of the first user is over; the other user has their own window")
        }
    }

    @Test func limiterCountsInOneWindow() async throws {
        try await withDatabase { db in
            let limiter = RateLimiter(client: db.client, logger: db.logger)
            let decisions = try await withThrowingTaskGroup(of: RateLimitDecision.self) { group in
                for _ in 0..<20 { group.addTask { try await limiter.hit(bucket: "b", limit: 15, window: TestAuth.longWindow) } }
                return try await group.reduce(into: [RateLimitDecision]()) { $0.append($1) }
            }
            #expect(decisions.filter(\.allowed).count == 15, "concurrent hits are counted exactly")
        }
    }
}
