import Foundation

/// Exponential backoff with jitter: attempt n waits `base * 2^(n-1)`, capped at `maximum`,
/// then spread by ±`jitter` so that jobs failing together do not retry together.
public struct RetryPolicy: Sendable, Equatable {
    /// The delay after the first failed attempt. Default 1 s.
    public var base: TimeInterval
    /// The longest delay. Default 1 hour.
    public var maximum: TimeInterval
    /// The fraction of the delay added or removed at random, 0...1. Default 0.1.
    public var jitter: Double
    /// Where the jitter's randomness comes from; tests pin it.
    public var random: @Sendable () -> Double

    public init(base: TimeInterval = 1, maximum: TimeInterval = 3600, jitter: Double = 0.1,
                random: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) {
        self.base = base
        self.maximum = maximum
        self.jitter = min(max(jitter, 0), 1)
        self.random = random
    }

    /// The delay before the attempt that follows `attempt` (1-based).
    public func delay(afterAttempt attempt: Int) -> TimeInterval {
        let exponent = Double(max(attempt, 1) - 1)
        let raw = min(base * pow(2, min(exponent, 62)), maximum)
        let spread = raw * jitter * (2 * random() - 1)
        return max(0, raw + spread)
    }

    public static func == (lhs: RetryPolicy, rhs: RetryPolicy) -> Bool {
        lhs.base == rhs.base && lhs.maximum == rhs.maximum && lhs.jitter == rhs.jitter
    }
}
