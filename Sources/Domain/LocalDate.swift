import Foundation

/// Calendar days as `yyyy-MM-dd` (a SQL `date`) in a time zone: UTC by default, where
/// midnight stands for the day; YouTube's Pacific days (`QuotaDay`), a schedule's zone.
public enum LocalDate {
    static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// The instant the day `text` begins in `zone`; nil for anything but a real `yyyy-MM-dd`.
    public static func date(_ text: String, in zone: TimeZone = .gmt) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard text.utf8.count == 10, parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]),
              let date = calendar(zone).date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
              string(date, in: zone) == text
        else { return nil }
        return date
    }

    /// The day containing `date` in `zone`.
    public static func string(_ date: Date, in zone: TimeZone = .gmt) -> String {
        let parts = calendar(zone).dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }
}
