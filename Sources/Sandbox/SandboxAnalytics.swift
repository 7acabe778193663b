import Foundation
import Hummingbird
import NIOCore

/// The YouTube Analytics API v2 `reports.query` (`GET /v2/reports`) for the reports a creator
/// dashboard reads: totals, a `day` series and top `video`s, over the metrics below. Figures
/// are deterministic per video and day and agree with the Data API's growing statistics: a
/// day's views are how much `viewCount` grew that Pacific day. Data reaches yesterday.
extension YouTubeSandbox {
    /// The metrics this sandbox serves, with their data types; revenue needs the monetary scope.
    static let analyticsMetrics: [String: String] = [
        "views": "INTEGER", "estimatedMinutesWatched": "INTEGER", "averageViewDuration": "INTEGER", "likes": "INTEGER",
        "comments": "INTEGER", "shares": "INTEGER", "subscribersGained": "INTEGER", "subscribersLost": "INTEGER",
        "estimatedRevenue": "FLOAT",
    ]
    static let monetaryMetrics: Set<String> = ["estimatedRevenue"]
    static let videoSorts: Set<String> = ["-views", "-estimatedMinutesWatched", "-estimatedRevenue", "-subscribersGained", "-subscribersLost"]
    static let analyticsScope = "https://www.googleapis.com/auth/yt-analytics.readonly"
    static let monetaryScope = "https://www.googleapis.com/auth/yt-analytics-monetary.readonly"

    /// One video's figures on one Pacific day.
    public struct DailyVideoMetrics: Sendable, Equatable {
        public var day: String
        public var videoID: String
        public var views: Int
        public var estimatedMinutesWatched: Int
        public var averageViewDuration: Int
        public var likes: Int
        public var comments: Int
        public var shares: Int
        public var subscribersGained: Int
        public var subscribersLost: Int
        /// USD, to the cent's tenth.
        public var estimatedRevenue: Double

        func value(_ metric: String) -> Double {
            switch metric {
            case "views": Double(views)
            case "estimatedMinutesWatched": Double(estimatedMinutesWatched)
            case "likes": Double(likes)
            case "comments": Double(comments)
            case "shares": Double(shares)
            case "subscribersGained": Double(subscribersGained)
            case "subscribersLost": Double(subscribersLost)
            case "estimatedRevenue": estimatedRevenue
            default: 0
            }
        }
    }

    func addAnalyticsRoutes(to router: Router<SandboxContext>) {
        router.get("/v2/reports") { request, _ in try await self.queryReport(request) }
    }

    /// Every day's figures of the channel's videos from `from` to `to` (Pacific days, included,
    /// up to yesterday): what `reports.query` sums, for tests to check sums against.
    public func dailyMetrics(channelID: String, from: String, to: String) -> [DailyVideoMetrics] {
        let now = configuration.now()
        let yesterday = PacificDay.before(now)
        let last = min(to, yesterday)
        let videos = state.withLock { state in state.videos.values.filter { $0.channelID == channelID } }
        var result: [DailyVideoMetrics] = []
        var day = from
        while day <= last, let start = PacificDay.start(of: day), let end = PacificDay.start(of: PacificDay.next(day)) {
            for video in videos.sorted(by: { $0.id < $1.id }) {
                let views = Self.views(of: video, at: min(end, now)) - Self.views(of: video, at: start)
                guard views > 0 else { continue }
                let duration = 45 + Self.seed(video.id) % 120
                let rpm = 1.5 + Double(Self.seed(channelID) % 30) / 10
                result.append(DailyVideoMetrics(
                    day: day, videoID: video.id, views: views, estimatedMinutesWatched: views * duration / 60, averageViewDuration: duration,
                    likes: views / 25, comments: views / 200, shares: views / 100, subscribersGained: views / 100,
                    subscribersLost: views / 1000, estimatedRevenue: (Double(views) * rpm).rounded() / 1000))
            }
            day = PacificDay.next(day)
        }
        return result
    }

    func queryReport(_ request: Request) async throws -> Response {
        guard let token = request.bearerToken else { return GoogleError.unauthenticated() }
        let now = configuration.now()
        guard let (account, clientID, scope) = state.withLock({ state -> (SandboxState.Account, String, String)? in
            guard let grant = state.tokens[token], grant.expiresAt > now, let account = state.accounts[grant.email] else { return nil }
            return (account, grant.clientID, grant.scope)
        }) else { return GoogleError.unauthenticated() }
        if let failure = try await injectedFailure() { return failure }
        let scopes = Set(scope.split(separator: " ").map(String.init))
        guard scopes.contains(Self.analyticsScope) || scopes.contains(Self.monetaryScope) else {
            return GoogleError.api(.forbidden, reason: "insufficientPermissions", message: "Request had insufficient authentication scopes.")
        }
        let query = request.uri.queryParameters
        let value = { (name: String) in query[name[...]].map(String.init) }
        guard let ids = value("ids"), let startDate = value("startDate"), let endDate = value("endDate"), let metricList = value("metrics") else {
            return GoogleError.api(.badRequest, reason: "required", message: "Required")
        }
        guard ids == "channel==MINE" || ids == "channel==\(account.channelID)" else {
            return GoogleError.api(.forbidden, reason: "forbidden", message: "Forbidden")
        }
        guard PacificDay.start(of: startDate) != nil, PacificDay.start(of: endDate) != nil, startDate <= endDate else {
            return GoogleError.api(.badRequest, reason: "badRequest", message: "Invalid value for startDate or endDate.")
        }
        let metrics = metricList.split(separator: ",").map(String.init)
        if let unknown = metrics.first(where: { Self.analyticsMetrics[$0] == nil }) {
            return GoogleError.api(.badRequest, reason: "badRequest", message: "Unknown identifier (\(unknown)) given in field parameters.metrics.")
        }
        guard !metrics.isEmpty else { return GoogleError.api(.badRequest, reason: "required", message: "Required") }
        if metrics.contains(where: Self.monetaryMetrics.contains), !scopes.contains(Self.monetaryScope) {
            return GoogleError.api(.forbidden, reason: "forbidden", message: "Forbidden")
        }
        let dimension = value("dimensions") ?? ""
        let unsupported = GoogleError.api(.badRequest, reason: "badRequest", message: """
            The query is not supported. Check the documentation at https://developers.google.com/youtube/analytics/v2/available_reports for a list of supported queries.
            """)
        let maxResults = value("maxResults").flatMap { Int($0) }
        switch dimension {
        case "", "day": break
        case "video":
            guard let sort = value("sort"), Self.videoSorts.contains(sort), let maxResults, (1...200).contains(maxResults) else { return unsupported }
        default: return unsupported
        }
        var videoFilter: Set<String>?
        if let filters = value("filters") {
            guard dimension != "video", filters.hasPrefix("video=="), !filters.contains(";") else { return unsupported }
            videoFilter = Set(filters.dropFirst("video==".count).split(separator: ",").map(String.init))
        }
        if let refused = charge("reports.query", channelID: "analytics:" + account.channelID, clientID: "analytics:" + clientID) { return refused }

        let days = dailyMetrics(channelID: account.channelID, from: startDate, to: endDate).filter { videoFilter?.contains($0.videoID) ?? true }
        let groups: [(key: String?, rows: [DailyVideoMetrics])]
        switch dimension {
        case "day": groups = Dictionary(grouping: days, by: \.day).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        case "video": groups = Dictionary(grouping: days, by: \.videoID).map { ($0.key, $0.value) }
        default: groups = days.isEmpty ? [] : [(nil, days)]
        }
        var rows: [[Any]] = groups.map { key, rows in
            var row: [Any] = key.map { [$0] } ?? []
            for metric in metrics {
                if metric == "averageViewDuration" {
                    let views = rows.reduce(0) { $0 + $1.views }
                    let seconds = rows.reduce(0) { $0 + $1.views * $1.averageViewDuration }
                    row.append(views == 0 ? 0 : seconds / views)
                } else if Self.analyticsMetrics[metric] == "FLOAT" {
                    row.append((rows.reduce(0.0) { $0 + $1.value(metric) } * 1000).rounded() / 1000)
                } else {
                    row.append(Int(rows.reduce(0.0) { $0 + $1.value(metric) }))
                }
            }
            return row
        }
        if dimension == "video", let sort = value("sort"), let index = metrics.firstIndex(of: String(sort.dropFirst())) {
            rows.sort { (($0[index + 1] as? NSNumber)?.doubleValue ?? 0) > (($1[index + 1] as? NSNumber)?.doubleValue ?? 0) }
            rows = Array(rows.prefix(maxResults ?? 200))
        } else if dimension == "video" {
            return unsupported
        }
        var headers: [[String: String]] = dimension.isEmpty ? [] : [["name": dimension, "columnType": "DIMENSION", "dataType": "STRING"]]
        headers += metrics.map { ["name": $0, "columnType": "METRIC", "dataType": Self.analyticsMetrics[$0] ?? "INTEGER"] }
        var body: [String: Any] = ["kind": "youtubeAnalytics#resultTable", "columnHeaders": headers]
        if !rows.isEmpty { body["rows"] = rows }
        return json(body)
    }

    static func seed(_ text: String) -> Int { text.utf8.reduce(0) { ($0 * 31 + Int($1)) % 1_000_003 } }
}

extension PacificDay {
    /// The instant a Pacific day (`yyyy-MM-dd`) starts, or nil for a malformed day.
    static func start(of day: String) -> Date? {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard day.utf8.count == 10, parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        guard let date = calendar.date(from: components), of(date) == day else { return nil }
        return date
    }

    /// The Pacific day before the one containing `date` — the calendar's day, not 24 hours
    /// back (the day after a DST change is 23 or 25 hours long).
    static func before(_ date: Date) -> String {
        let today = of(date)
        guard let start = start(of: today), let previous = calendar.date(byAdding: .day, value: -1, to: start) else { return "0000-01-01" }
        return of(previous)
    }

    /// The Pacific day after `day`.
    static func next(_ day: String) -> String {
        guard let start = start(of: day), let next = calendar.date(byAdding: .day, value: 1, to: start) else { return "9999-12-31" }
        return of(next)
    }
}
