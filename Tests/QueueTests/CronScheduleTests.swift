import Foundation
import Queue
import Testing

/// The cron parser and its next run: a table of expressions, zones and instants, with DST
/// gaps and repeats, Feb 29 and months without a 31st.
@Suite struct CronScheduleTests {
    static func instant(_ text: String) -> Date {
        (try? Date(text, strategy: .iso8601)) ?? .distantPast
    }

    /// (expression, zone, after, expected next run)
    static let table: [(String, String, String, String?)] = [
        ("*/15 * * * *", "UTC", "2026-12-05T03:07:10Z", "2026-12-05T03:15:00Z"),
        ("0 * * * *", "UTC", "2026-12-05T03:00:00Z", "2026-12-05T04:00:00Z"),  // strictly after
        ("@daily", "UTC", "2026-12-05T03:00:00Z", "2026-12-06T00:00:00Z"),
        ("@hourly", "UTC", "2026-12-05T23:30:00Z", "2026-12-06T00:00:00Z"),
        ("@monthly", "UTC", "2026-12-05T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("@yearly", "UTC", "2026-12-05T00:00:00Z", "2027-01-01T00:00:00Z"),
        // A Monday 09:00 in Tokyo is Sunday 00:00 UTC.
        ("0 9 * * 1", "Asia/Tokyo", "2026-12-05T03:00:00Z", "2026-12-07T00:00:00Z"),
        ("0 9 * * mon", "Asia/Tokyo", "2026-12-05T03:00:00Z", "2026-12-07T00:00:00Z"),
        ("@weekly", "America/New_York", "2026-12-05T03:00:00Z", "2026-12-06T05:00:00Z"),  // Sunday 00:00 EST
        ("0 0 * * 7", "UTC", "2026-12-05T03:00:00Z", "2026-12-06T00:00:00Z"),  // 7 is Sunday too
        ("30 8 * * 1-5", "Europe/Paris", "2026-12-05T03:00:00Z", "2026-12-07T07:30:00Z"),  // the weekend skipped
        ("0 12 1,15 * *", "UTC", "2026-12-02T00:00:00Z", "2026-12-15T12:00:00Z"),
        ("0 12 13 * 5", "UTC", "2026-12-02T00:00:00Z", "2026-12-04T12:00:00Z"),  // day 13 OR a Friday
        ("0 0 * jan-mar *", "UTC", "2026-12-05T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("10-50/20 * * * *", "UTC", "2026-12-05T03:31:00Z", "2026-12-05T03:50:00Z"),
        // Feb 29 comes in leap years only.
        ("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
        // Months without a 31st are skipped.
        ("0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"),
        ("0 0 31 2 *", "UTC", "2026-01-01T00:00:00Z", nil),
        // Spring forward in New York (2026-03-08, 02:00 EST → 03:00 EDT): 02:30 does not exist and runs at 03:30 EDT.
        ("30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:30:00Z"),
        ("30 2 * * *", "America/New_York", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"),
        // Fall back (2026-11-01, 02:00 EDT → 01:00 EST): 01:30 happens twice and runs once, at the first.
        ("30 1 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"),
        ("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
    ]

    @Test(arguments: table.indices)
    func nextRun(_ index: Int) throws {
        let (expression, zone, after, expected) = Self.table[index]
        let schedule = try CronSchedule(expression, timeZone: try #require(TimeZone(identifier: zone)))
        let next = schedule.next(after: Self.instant(after))
        #expect(next == expected.map(Self.instant), "\(expression) in \(zone) after \(after): \(String(describing: next))")
    }

    @Test func badExpressionsAreRefusedWithTheFieldNamed() {
        for (expression, words) in [("* * * *", "5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
                                    ("* * * 13 *", "month"), ("* * * * 8", "day of week"), ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"),
                                    ("@sometimes", "macro"), ("a b c d e", "minute"), ("1,,2 * * * *", "minute")] {
            do {
                _ = try CronSchedule(expression)
                Issue.record("\(expression) was accepted")
            } catch let error as QueueError {
                #expect(error.message.contains(words), "\(expression): \(error.message)")
            } catch {
                Issue.record("\(expression): \(error)")
            }
        }
    }
}
