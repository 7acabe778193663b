import Foundation
import Logging
import PostgresNIO
import Queue

/// The outcome of counting one request against a limit.
public struct RateLimitDecision: Sendable, Equatable {
    public var allowed: Bool
    public var limit: Int
    public var remaining: Int
    /// Seconds until the window resets.
    public var resetSeconds: Int
}

/// Fixed-window rate limits kept in Postgres, so every API instance counts the same
/// requests: one statement per check.
public struct RateLimiter: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Counts a request in `bucket` (e.g. `general:usr_…`) and decides whether it is within
    /// `limit` requests per `window`.
    public func hit(bucket: String, limit: Int, window: Duration) async throws -> RateLimitDecision {
        let seconds = max(1, window.components.seconds)
        let rows = try await client.query("""
            INSERT INTO rate_limit_windows AS w (bucket, window_start, hits)
            VALUES (\(bucket), to_timestamp(floor(extract(epoch FROM now()) / \(seconds)) * \(seconds)), 1)
            ON CONFLICT (bucket, window_start) DO UPDATE SET hits = w.hits + 1
            RETURNING hits, ceil(extract(epoch FROM w.window_start + make_interval(secs => \(Double(seconds))) - now()))::int8
            """, logger: logger)
        for try await (hits, reset) in rows.decode((Int32, Int64).self) {
            return RateLimitDecision(allowed: Int(hits) <= limit, limit: limit, remaining: max(0, limit - Int(hits)),
                                     resetSeconds: max(1, Int(reset)))
        }
        return RateLimitDecision(allowed: true, limit: limit, remaining: limit, resetSeconds: Int(seconds))
    }
}

extension RateLimiter {
    /// Takes one counted request back out of `bucket`'s current window (a login that
    /// succeeded is not a failed attempt).
    public func forgive(bucket: String, window: Duration) async throws {
        let seconds = max(1, window.components.seconds)
        try await client.query("""
            UPDATE rate_limit_windows SET hits = greatest(hits - 1, 0)
             WHERE bucket = \(bucket) AND window_start = to_timestamp(floor(extract(epoch FROM now()) / \(seconds)) * \(seconds))
            """, logger: logger)
    }
}
