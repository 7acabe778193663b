import Domain
import Testing

/// The webhook retry schedule, read as given, fractions of a second included.
@Suite struct WebhookPolicyTests {
    @Test func retryDelaysFollowTheScheduleWithAtMostTenPercentJitter() throws {
        var policy = WebhookPolicy()
        policy.schedule = [.milliseconds(200), .seconds(5), .seconds(3600)]
        for (attempt, base) in [(1, 0.2), (2, 5.0), (3, 3600.0)] {
            let delay = try #require(policy.retryDelay(after: attempt))
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            #expect(seconds >= base * 0.999 && seconds <= base * 1.1 + 0.001, "attempt \(attempt): \(delay)")
        }
        #expect(policy.retryDelay(after: 4) == nil, "past the schedule the delivery has failed")
        #expect(policy.retryDelay(after: 0) == nil)
    }
}
