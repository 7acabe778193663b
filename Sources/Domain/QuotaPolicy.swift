import Foundation

/// YouTube quota settings: each account's daily units, the safety buffer kept free, and
/// what each API method costs (Google's published costs by default).
public struct QuotaPolicy: Sendable, Equatable {
    public var dailyLimit = 10_000
    /// Units never reserved, so a miscount elsewhere cannot push an account over.
    public var safetyBuffer = 100
    public var costs: [String: Int] = ["videos.insert": 1600, "thumbnails.set": 50, "channels.list": 1, "videos.list": 1]
    /// The share of the limit whose crossing writes `quota.warning`.
    public var warningFraction = 0.8
    /// How long an account rests after a failure (doubling per recent failure, at most a day).
    public var cooldown: Duration = .seconds(60)
    /// The most accounts one user may connect (the plan may allow fewer).
    public var maximumAccounts = 15

    public init() {}

    /// Units of `method` (1 for one not listed).
    public func cost(_ method: String) -> Int { costs[method] ?? 1 }

    /// What one publication reserves: the upload and its thumbnail.
    public var uploadUnits: Int { cost("videos.insert") + cost("thumbnails.set") }

    /// Reads `videos.insert=1600,thumbnails.set=50` (the rest keep their defaults).
    public mutating func setCosts(_ text: String) throws {
        for entry in text.split(separator: ",") {
            let parts = entry.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            // A method costs at most a whole day's quota of the largest account (1,000,000 units).
            guard parts.count == 2, !parts[0].isEmpty, let units = Int(parts[1]), (0...1_000_000).contains(units) else {
                throw DomainError(.invalid, "quota costs: '\(entry)' must look like videos.insert=1600 (0 to 1000000 units)")
            }
            costs[parts[0]] = units
        }
    }
}

/// A connected YouTube account as users see it.
public struct YouTubeAccount: Sendable, Equatable {
    public var id: String
    public var email: String
    public var youtubeChannelID: String
    public var channelName: String
    public var status: YouTubeAccountStatus
    public var quotaUsed: Int
    public var quotaLimit: Int
    public var healthScore: Int
    public var cooldownUntil: Date?
    public var lastError: String?
    public var createdAt: Date
    /// When today's quota resets (midnight America/Los_Angeles).
    public var quotaResetsAt: Date
    /// What YouTube Analytics lets the product read for this account.
    public var analyticsAccess: AnalyticsAccess
}

/// What Google granted of YouTube Analytics when the account was connected.
public enum AnalyticsAccess: String, Sendable, CaseIterable {
    /// Figures and revenue.
    case granted
    /// Figures without revenue (the monetary scope was refused).
    case noRevenue = "no_revenue"
    /// Nothing: the account was connected before the Analytics scopes were asked for, or they
    /// were refused. Connecting it again asks for them.
    case reconnectRequired = "reconnect_required"

    public init(analytics: Bool, revenue: Bool) {
        self = !analytics ? .reconnectRequired : revenue ? .granted : .noRevenue
    }
}

/// YouTube's quota day: midnight to midnight America/Los_Angeles, DST-aware (a spring day
/// has 23 hours, an autumn one 25).
public enum QuotaDay {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/Los_Angeles") ?? .gmt
        return calendar
    }()

    /// The Pacific date containing `date`, as `yyyy-MM-dd` (a SQL `date`).
    public static func of(_ date: Date) -> String { LocalDate.string(date, in: calendar.timeZone) }

    /// The Pacific day `days` days before (negative: after) the one containing `date`, counted
    /// in calendar days (a DST day has 23 or 25 hours).
    public static func of(_ date: Date, daysBefore days: Int) -> String {
        of(calendar.date(byAdding: .day, value: -days, to: calendar.startOfDay(for: date)) ?? date)
    }

    /// The Pacific day `days` days after the one containing `date`.
    public static func of(_ date: Date, daysAfter days: Int) -> String { of(date, daysBefore: -days) }

    /// The instant a Pacific day (`yyyy-MM-dd`) begins; nil for anything else.
    public static func date(_ day: String) -> Date? { LocalDate.date(day, in: calendar.timeZone) }

    /// The instant the Pacific day after `date`'s begins.
    public static func nextReset(after date: Date) -> Date {
        let start = calendar.startOfDay(for: date)
        return calendar.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400)
    }
}
