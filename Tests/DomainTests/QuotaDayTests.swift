import Domain
import Foundation
import Testing

/// YouTube's quota day: midnight to midnight Pacific time, DST included.
@Suite struct QuotaDayTests {
    @Test func theQuotaDayIsPacificAndDSTAware() throws {
        let formatter = ISO8601DateFormatter()
        // Noon in Los Angeles on the spring-forward day (PDT after 02:00): the next day starts 12 hours later, at 07:00 UTC.
        let spring = try #require(formatter.date(from: "2026-03-08T19:00:00Z"))
        #expect(QuotaDay.of(spring) == "2026-03-08")
        #expect(QuotaDay.nextReset(after: spring) == formatter.date(from: "2026-03-09T07:00:00Z"))
        // Before midnight Pacific it is still the previous day, whatever UTC says.
        let lateEvening = try #require(formatter.date(from: "2026-11-30T07:30:00Z"))
        #expect(QuotaDay.of(lateEvening) == "2026-11-29")
        #expect(QuotaDay.nextReset(after: lateEvening) == formatter.date(from: "2026-11-30T08:00:00Z"))
        // The autumn day lasts 25 hours: it starts at 07:00 UTC and the next at 08:00 UTC the day after.
        let autumn = try #require(formatter.date(from: "2026-11-01T12:00:00Z"))
        #expect(QuotaDay.nextReset(after: autumn) == formatter.date(from: "2026-11-02T08:00:00Z"))
    }
}
