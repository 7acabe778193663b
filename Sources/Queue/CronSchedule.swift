import Foundation

/// A 5-field cron expression (`minute hour day-of-month month day-of-week`) in a time zone,
/// as Vixie cron reads it: `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `10-50/20`),
/// month and weekday names (`jan`, `mon`; Sunday is 0 or 7), and the macros `@yearly`
/// (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`. When both the
/// day of the month and the day of the week are restricted, a day matching either runs.
///
/// Times are wall-clock times in `timeZone`. A time that does not exist on a spring-forward
/// day runs at the instant the clock jumps to (02:30 → 03:30); a time that happens twice on
/// a fall-back day runs once, at its first occurrence.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let expression: String
    public let timeZone: TimeZone
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    /// 0 (Sunday) to 6.
    let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool

    public var description: String { "\(expression) (\(timeZone.identifier))" }

    /// - Throws: `QueueError(.invalidConfiguration)` naming the field at fault.
    public init(_ expression: String, timeZone: TimeZone = .gmt) throws {
        let trimmed = expression.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 200 else { throw QueueError(.invalidConfiguration, "a cron expression is at most 200 characters") }
        let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
                      "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
        let expanded = trimmed.hasPrefix("@") ? macros[trimmed.lowercased()] : trimmed
        guard let expanded else {
            throw QueueError(.invalidConfiguration, "unknown cron macro '\(trimmed)': use @yearly, @monthly, @weekly, @daily or @hourly")
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw QueueError(.invalidConfiguration, "a cron expression has 5 fields (minute hour day-of-month month day-of-week), not \(fields.count)")
        }
        let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        self.expression = trimmed
        self.timeZone = timeZone
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day of month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12, names: monthNames, firstName: 1)
        daysOfWeek = Set(try Self.field(fields[4], name: "day of week", range: 0...7, names: dayNames, firstName: 0).map { $0 % 7 })
        domRestricted = !fields[2].hasPrefix("*")
        dowRestricted = !fields[4].hasPrefix("*")
    }

    /// The values one field allows.
    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String] = [],
                              firstName: Int = 0) throws -> Set<Int> {
        func value(_ token: Substring) throws -> Int {
            if let number = Int(token), range.contains(number) { return number }
            if let index = names.firstIndex(of: token.lowercased()) { return index + firstName }
            throw QueueError(.invalidConfiguration, "cron \(name): '\(token)' is not in \(range.lowerBound)-\(range.upperBound)")
        }
        var result = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed >= 1, parsed <= range.upperBound + 1 else {
                    throw QueueError(.invalidConfiguration, "cron \(name): the step in '\(part)' must be 1 to \(range.upperBound + 1)")
                }
                step = parsed
            }
            let base = pieces[0]
            let bounds: ClosedRange<Int>
            if base == "*" {
                bounds = range
            } else if let dash = base.firstIndex(of: "-") {
                let low = try value(base[..<dash]), high = try value(base[base.index(after: dash)...])
                guard low <= high else { throw QueueError(.invalidConfiguration, "cron \(name): the range '\(base)' runs backwards") }
                bounds = low...high
            } else {
                let single = try value(base)
                bounds = single...(pieces.count == 2 ? range.upperBound : single)
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return result
    }

    /// Whether the schedule runs on this local day.
    private func runs(year: Int, month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let dom = daysOfMonth.contains(day), dow = daysOfWeek.contains(weekday)
        switch (domRestricted, dowRestricted) {
        case (true, true): return dom || dow
        case (true, false): return dom
        case (false, true): return dow
        case (false, false): return true
        }
    }

    /// The first run strictly after `instant`, within the next 8 years (nil if none: `0 0 31 2 *`).
    public func next(after instant: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = instant.addingTimeInterval(1)
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        guard var day = calendar.dateInterval(of: .day, for: start)?.start else { return nil }
        for _ in 0..<(366 * 8) {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            if let year = parts.year, let month = parts.month, let dayOfMonth = parts.day, let weekday = parts.weekday,
               runs(year: year, month: month, day: dayOfMonth, weekday: weekday - 1) {
                for hour in sortedHours {
                    for minute in sortedMinutes {
                        let wanted = DateComponents(year: year, month: month, day: dayOfMonth, hour: hour, minute: minute)
                        // A time the clock skips maps to the instant it jumps to; a repeated one to its first occurrence.
                        guard let candidate = calendar.date(from: wanted), candidate > instant else { continue }
                        return candidate
                    }
                }
            }
            guard let following = calendar.date(byAdding: .day, value: 1, to: day) else { return nil }
            day = calendar.startOfDay(for: following)
        }
        return nil
    }
}
