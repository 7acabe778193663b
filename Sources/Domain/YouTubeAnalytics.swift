import Foundation

/// One `reports.query` of the YouTube Analytics API v2 for the connected channel
/// (`ids=channel==MINE`).
public struct AnalyticsQuery: Sendable, Equatable {
    /// How the rows are cut.
    public enum Dimension: String, Sendable {
        /// One row for the whole range.
        case none = ""
        /// A row per day (`YYYY-MM-DD`).
        case day
        /// A row per video, top ones first by `sort` (at most 200).
        case video
    }

    public var startDate: String
    public var endDate: String
    public var metrics: [String]
    public var dimension: Dimension
    /// For `video`: the descending sort (`-views`) and how many rows.
    public var sort: String?
    public var maxResults: Int?
    /// Only these videos (not with `video`).
    public var videoIDs: [String]?

    public init(startDate: String, endDate: String, metrics: [String], dimension: Dimension = .none, sort: String? = nil, maxResults: Int? = nil,
                videoIDs: [String]? = nil) {
        self.startDate = startDate
        self.endDate = endDate
        self.metrics = metrics
        self.dimension = dimension
        self.sort = sort
        self.maxResults = maxResults
        self.videoIDs = videoIDs
    }

    /// The metrics a dashboard reads; `estimatedRevenue` needs the monetary scope.
    public static let dashboardMetrics = ["views", "estimatedMinutesWatched", "averageViewDuration", "likes", "comments", "shares",
                                          "subscribersGained", "subscribersLost", "estimatedRevenue"]
}

/// A `reports.query` answer: the column names in order and the rows, dimension cells as text
/// and metric cells as numbers, checked and bounded where they were read.
public struct AnalyticsTable: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[AnalyticsCell]]

    public init(columns: [String], rows: [[AnalyticsCell]]) {
        self.columns = columns
        self.rows = rows
    }

    /// The rows as dictionaries by column name.
    public var records: [[String: AnalyticsCell]] {
        rows.map { Dictionary(zip(columns, $0), uniquingKeysWith: { first, _ in first }) }
    }
}

/// One cell of an analytics row.
public enum AnalyticsCell: Sendable, Equatable {
    case text(String)
    case number(Double)

    public var text: String? { if case .text(let value) = self { value } else { nil } }
    public var number: Double? { if case .number(let value) = self { value } else { nil } }
}
