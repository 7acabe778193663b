import Foundation

/// What a report is about.
public enum ReportType: String, Sendable, CaseIterable, Codable {
    /// Channels and videos over the period: views, watch time, engagement, revenue.
    case performance
    /// The ledger: every paid call with its day, channel, video, stage and provider.
    case cost
    /// The analytics days of the user's channels.
    case analytics
    /// The account at a glance: videos made, spend, revenue, return on cost, quota use.
    case summary

    public var summary: String {
        switch self {
        case .performance: "Each published video over the period: views, minutes watched, likes, comments, shares, engagement and revenue."
        case .cost: "Every ledger row of the period: day, channel, video, stage, provider, model, amount and whether it was billed for certain."
        case .analytics: "Each channel's YouTube Analytics days: views, watch time, engagement, subscribers and revenue."
        case .summary: "The account at a glance: videos made, spend, revenue, return on cost and YouTube quota use."
        }
    }

    /// The CSV's header row (JSON reports carry the same fields per row).
    public var columns: [String] {
        switch self {
        case .performance:
            ["channel_id", "channel_name", "video_id", "title", "youtube_video_id", "views", "minutes_watched", "likes", "comments", "shares",
             "engagement_rate", "revenue"]
        case .cost: ["day", "channel_id", "channel_name", "video_id", "title", "stage", "provider", "model", "amount", "basis"]
        case .analytics:
            ["day", "channel_id", "channel_name", "views", "minutes_watched", "average_view_duration", "likes", "comments", "shares",
             "subscribers_gained", "subscribers_lost", "revenue"]
        case .summary: ["metric", "value"]
        }
    }
}

/// How a report is written.
public enum ReportFormat: String, Sendable, CaseIterable, Codable {
    /// Every row, RFC 4180.
    case csv
    /// Every row, with the report's parameters.
    case json
    /// For reading: a title page, charts and tables with totals (see `ReportDigest`).
    case pdf

    public var contentType: String {
        switch self {
        case .csv: "text/csv; charset=utf-8"
        case .json: "application/json"
        case .pdf: "application/pdf"
        }
    }
}

public enum ReportStatus: String, Sendable, CaseIterable {
    case queued, generating, ready, failed, expired
}

/// What a user asks for: a type, a format, the days (in their time zone; analytics days are
/// YouTube's) and optionally some of their channels.
public struct ReportRequest: Sendable, Equatable {
    public var type: ReportType
    public var format: ReportFormat
    public var from: String
    public var to: String
    public var channelIDs: [String]
    /// The named period the days came from, if any (a schedule makes each run's days from it).
    public var period: String?

    public init(type: ReportType, format: ReportFormat, from: String, to: String, channelIDs: [String], period: String? = nil) {
        self.type = type
        self.format = format
        self.from = from
        self.to = to
        self.channelIDs = channelIDs
        self.period = period
    }

    /// The periods a request may name instead of dates.
    public static let periods = ["last_7_days", "last_30_days", "last_90_days", "current_month", "last_month"]

    /// The days of a named period, given the user's today (`yyyy-MM-dd`).
    /// - Throws: `invalid` for an unknown period.
    public static func days(of period: String, today: String) throws -> (from: String, to: String) {
        let calendar = LocalDate.calendar(.gmt)
        guard let date = LocalDate.date(today) else { throw DomainError(.invalid, "today is not a date", field: "period") }
        func day(_ value: Date?) -> String { value.map { LocalDate.string($0) } ?? today }
        switch period {
        case "last_7_days": return (day(calendar.date(byAdding: .day, value: -6, to: date)), today)
        case "last_30_days": return (day(calendar.date(byAdding: .day, value: -29, to: date)), today)
        case "last_90_days": return (day(calendar.date(byAdding: .day, value: -89, to: date)), today)
        case "current_month": return (day(calendar.dateInterval(of: .month, for: date)?.start), today)
        case "last_month":
            let start = calendar.dateInterval(of: .month, for: date)?.start ?? date
            let previous = calendar.date(byAdding: .month, value: -1, to: start)
            return (day(previous), day(calendar.date(byAdding: .day, value: -1, to: start)))
        default:
            throw DomainError(.invalid, "period is one of \(periods.joined(separator: ", "))", field: "period")
        }
    }

    /// Checks the dates: real days, in order, at most 366 days apart.
    public func validate() throws {
        guard let from = LocalDate.date(from) else { throw DomainError(.invalid, "date_from must be a date (YYYY-MM-DD)", field: "date_from") }
        guard let to = LocalDate.date(to) else { throw DomainError(.invalid, "date_to must be a date (YYYY-MM-DD)", field: "date_to") }
        guard from <= to else { throw DomainError(.invalid, "date_from must not be after date_to", field: "date_from") }
        guard to.timeIntervalSince(from) <= 366 * 86_400 else {
            throw DomainError(.invalid, "a report covers at most 366 days", field: "date_to")
        }
        guard channelIDs.count <= 50 else { throw DomainError(.invalid, "at most 50 channel_ids", field: "channel_ids") }
    }
}

/// A report as the user sees it.
public struct Report: Sendable, Equatable {
    public var id: String
    public var type: ReportType
    public var format: ReportFormat
    public var from: String
    public var to: String
    public var channelIDs: [String]
    public var status: ReportStatus
    public var progress: Int
    public var rows: Int64?
    public var sizeBytes: Int64?
    public var sha256: String?
    public var error: String?
    public var storageKey: String?
    public var createdAt: Date
    public var readyAt: Date?
    public var expiresAt: Date?
    public var period: String?
    /// The schedule that made it, or that it set up.
    public var schedule: ReportSchedule?

    /// A filename that says what the file is: `ytempire-cost-2026-11-01-2026-11-30.csv`.
    public var filename: String { "ytempire-\(type.rawValue)-\(from)-\(to).\(format.rawValue)" }
}

/// A recurring report's schedule: a periodic job whose runs each make a report.
public struct ReportSchedule: Sendable, Equatable {
    public var id: String
    public var cron: String
    public var timeZone: String
    /// Nil once the schedule was stopped.
    public var nextRunAt: Date?
}

/// What a run of a report schedule (`report.schedule.run`) makes: a report of this kind for
/// the named period as of the run.
public struct ReportScheduleArgs: Codable, Sendable, Equatable {
    public var scheduleID: String
    public var userID: String
    public var type: ReportType
    public var format: ReportFormat
    public var period: String
    public var channelIDs: [String]
    /// The run's scheduled time (RFC 3339), added by the periodic engine.
    public var scheduledAt: String?

    public init(scheduleID: String, userID: String, type: ReportType, format: ReportFormat, period: String, channelIDs: [String],
                scheduledAt: String?) {
        self.scheduleID = scheduleID
        self.userID = userID
        self.type = type
        self.format = format
        self.period = period
        self.channelIDs = channelIDs
        self.scheduledAt = scheduledAt
    }

    enum CodingKeys: String, CodingKey {
        case scheduleID = "schedule_id", userID = "user_id", type, format, period, channelIDs = "channel_ids", scheduledAt = "scheduled_at"
    }

    public static let kind = "report.schedule.run"
}

/// What a `report.generate` job is asked to make.
public struct ReportJobArgs: Codable, Sendable, Equatable {
    public var reportID: String
    public var userID: String

    public init(reportID: String, userID: String) {
        self.reportID = reportID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey { case reportID = "report_id", userID = "user_id" }

    public static let kind = "report.generate"
    /// Reports have their own queue, so operators can pause or limit them apart from videos.
    public static let queue = "reports"
}
