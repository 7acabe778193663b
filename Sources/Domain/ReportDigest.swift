import Foundation
import Logging
import PostgresNIO

/// What a PDF report shows a person: the account and period, the headline figures, a daily
/// series for the charts, the spend by provider, and the type's tables with totals. Every
/// part is an aggregate or a top-N list, so it is small whatever the account's size; the
/// full rows are what the CSV and JSON formats are for.
public struct ReportDigest: Sendable {
    /// One table of the report: its rows, and a totals row when the figures add up.
    public struct Table: Sendable {
        public var title: String
        public var columns: [Column]
        public var rows: [[ReportValue]]
        public var totals: [ReportValue]?
        /// Says what the rows are when they are not all of them ("the 25 most viewed of 1,204").
        public var note: String?
    }

    /// A table's column: its heading and how its cells are shown.
    public struct Column: Sendable, Equatable {
        public var name: String
        public var style: Style
    }

    /// How a column's cells are read and shown.
    public enum Style: Sendable, Equatable {
        case text, count, money
        /// A ratio shown as a percentage.
        case percent

        /// Figures are right-aligned.
        public var isFigure: Bool { self != .text }
    }

    /// One day of the period: the channels' views and revenue and the ledger's spend.
    public struct Day: Sendable, Equatable {
        public var day: String
        public var views: Int64
        public var revenue: Int64
        public var cost: Int64
    }

    public var accountEmail: String
    public var accountName: String
    public var timeZone: String
    /// The channels the report covers, by name.
    public var channels: [String]
    /// The summary report's figures (metric, value).
    public var figures: [(metric: String, value: ReportValue)]
    public var days: [Day]
    /// Spend by provider (micros), largest first.
    public var providers: [(provider: String, amount: Int64)]
    public var tables: [Table]
    /// How many rows the CSV or JSON of the same report would hold.
    public var rowCount: Int64
    /// The daily and monthly budgets, if set (micros).
    public var dailyBudget: Int64?
    public var monthlyBudget: Int64?
}

extension ReportRows {
    /// How many rows a top-N table of a PDF report shows.
    public static let digestTopRows = 25

    /// Reads what the PDF of `report` shows, from one snapshot (the same repeatable-read
    /// transaction as the CSV and JSON rows).
    public func digest(_ report: Report, userID: String) async throws -> ReportDigest {
        try await snapshot { connection in
            try await digest(report, userID: userID, on: connection)
        }
    }

    private func digest(_ report: Report, userID: String, on connection: PostgresConnection) async throws -> ReportDigest {
        let (from, to, channels) = (report.from, report.to, report.channelIDs)
        var digest = ReportDigest(accountEmail: "", accountName: "", timeZone: "UTC", channels: [], figures: [], days: [], providers: [],
                                  tables: [], rowCount: try await count(report, userID: userID, on: connection))
        let account = try await connection.query("""
            SELECT u.email, coalesce(u.full_name, ''), coalesce(u.settings->>'timezone', 'UTC'), b.daily_budget, b.monthly_budget,
                   coalesce((SELECT array_agg(c.name ORDER BY c.created_at, c.id) FROM channels c
                              WHERE c.user_id = u.id AND (cardinality(\(channels)::text[]) = 0 OR c.id = ANY(\(channels)))), '{}')
              FROM users u LEFT JOIN cost_budgets b ON b.user_id = u.id WHERE u.id = \(userID)
            """, logger: logger)
        for try await (email, name, zone, daily, monthly, names) in account.decode((String, String, String, Int64?, Int64?, [String]).self) {
            (digest.accountEmail, digest.accountName, digest.timeZone, digest.dailyBudget, digest.monthlyBudget, digest.channels) =
                (email, name, zone, daily, monthly, names)
        }
        var summary = report
        summary.type = .summary
        for try await row in try await connection.query(query(summary, userID: userID), logger: logger) {
            let values = try Self.values(row, of: .summary)
            if case .text(let metric) = values[0] { digest.figures.append((metric, values[1])) }
        }
        let days = try await connection.query("""
            WITH ch AS (SELECT id FROM channels WHERE user_id = \(userID) AND (cardinality(\(channels)::text[]) = 0 OR id = ANY(\(channels)))),
                 a AS (SELECT day, sum(views)::int8 AS views, coalesce(sum(revenue), 0)::int8 AS revenue FROM channel_analytics_daily
                        WHERE channel_id IN (SELECT id FROM ch) AND day BETWEEN \(from)::date AND \(to)::date GROUP BY day),
                 c AS (SELECT l.day, sum(l.amount)::int8 AS cost FROM cost_ledger l JOIN videos v ON v.id = l.video_id
                        WHERE l.user_id = \(userID) AND l.day BETWEEN \(from)::date AND \(to)::date AND v.channel_id IN (SELECT id FROM ch)
                        GROUP BY l.day)
            SELECT to_char(g.day, 'YYYY-MM-DD'), coalesce(a.views, 0), coalesce(a.revenue, 0), coalesce(c.cost, 0)
              FROM generate_series(\(from)::date, \(to)::date, interval '1 day') AS g(day)
              LEFT JOIN a ON a.day = g.day LEFT JOIN c ON c.day = g.day
             ORDER BY g.day
            """, logger: logger)
        for try await (day, views, revenue, cost) in days.decode((String, Int64, Int64, Int64).self) {
            digest.days.append(.init(day: day, views: views, revenue: revenue, cost: cost))
        }
        let ledger = """
            FROM cost_ledger l JOIN videos v ON v.id = l.video_id JOIN channels c ON c.id = v.channel_id
             WHERE l.user_id = $1 AND l.day BETWEEN $2::date AND $3::date AND (cardinality($4::text[]) = 0 OR c.id = ANY($4))
            """
        let byProvider = try await table(
            "Spend by provider", columns: ["Provider", "Calls", "Spend"], kinds: [.text, .count, .money],
            sql: "SELECT l.provider, count(*)::int8, sum(l.amount)::int8 \(ledger) GROUP BY l.provider ORDER BY 3 DESC, 1",
            userID: userID, report: report, on: connection)
        digest.providers = byProvider.rows.compactMap { row in
            guard case .text(let name) = row[0], case .money(let amount) = row[2] else { return nil }
            return (name, amount)
        }
        let published = """
            FROM videos v JOIN channels c ON c.id = v.channel_id
            LEFT JOIN video_analytics_daily d ON d.video_id = v.id AND d.day BETWEEN $2::date AND $3::date
             WHERE v.user_id = $1 AND v.status = 'published' AND (cardinality($4::text[]) = 0 OR c.id = ANY($4))
            """
        switch report.type {
        case .performance:
            var top = try await table(
                "Most viewed videos", columns: ["Video", "Channel", "Views", "Minutes watched", "Engagement", "Revenue"],
                kinds: [.text, .text, .count, .count, .percent, .money],
                sql: """
                    SELECT v.title, c.name, coalesce(sum(d.views), 0)::int8, coalesce(sum(d.minutes_watched), 0)::int8,
                           CASE WHEN sum(d.views) > 0 THEN sum(d.likes + d.comments + d.shares)::float8 / sum(d.views) ELSE 0 END,
                           coalesce(sum(d.revenue), 0)::int8
                    \(published) GROUP BY c.id, v.id ORDER BY 3 DESC, v.created_at, v.id LIMIT \(Self.digestTopRows)
                    """, userID: userID, report: report, on: connection)
            top.totals = try await totals(
                sql: """
                    SELECT count(DISTINCT v.id)::int8, coalesce(sum(d.views), 0)::int8, coalesce(sum(d.minutes_watched), 0)::int8,
                           CASE WHEN sum(d.views) > 0 THEN sum(d.likes + d.comments + d.shares)::float8 / sum(d.views) ELSE 0 END,
                           coalesce(sum(d.revenue), 0)::int8 \(published)
                    """, kinds: [.count, .count, .count, .percent, .money], userID: userID, report: report, on: connection)
                .map { [.text("All videos"), .empty] + $0.dropFirst() }
            top.note = "The \(Self.digestTopRows) most viewed of \(ReportValue.grouped(digest.rowCount)) published videos; the totals cover all of them."
            digest.tables.append(top)
            digest.tables.append(try await table(
                "By channel", columns: ["Channel", "Videos", "Views", "Minutes watched", "Revenue"],
                kinds: [.text, .count, .count, .count, .money],
                sql: """
                    SELECT c.name, count(DISTINCT v.id)::int8, coalesce(sum(d.views), 0)::int8, coalesce(sum(d.minutes_watched), 0)::int8,
                           coalesce(sum(d.revenue), 0)::int8
                    \(published) GROUP BY c.id ORDER BY 3 DESC, c.created_at, c.id
                    """, userID: userID, report: report, on: connection).summed())
        case .cost:
            digest.tables.append(byProvider.summed())
            digest.tables.append(try await table(
                "Spend by stage", columns: ["Stage", "Calls", "Spend"], kinds: [.text, .count, .money],
                sql: "SELECT l.stage, count(*)::int8, sum(l.amount)::int8 \(ledger) GROUP BY l.stage ORDER BY 3 DESC, 1",
                userID: userID, report: report, on: connection).summed())
            digest.tables.append(try await table(
                "Spend by channel", columns: ["Channel", "Videos", "Spend"], kinds: [.text, .count, .money],
                sql: "SELECT c.name, count(DISTINCT v.id)::int8, sum(l.amount)::int8 \(ledger) GROUP BY c.id ORDER BY 3 DESC, c.created_at, c.id",
                userID: userID, report: report, on: connection).summed())
            var videos = try await table(
                "Most expensive videos", columns: ["Video", "Channel", "Calls", "Spend"], kinds: [.text, .text, .count, .money],
                sql: """
                    SELECT v.title, c.name, count(*)::int8, sum(l.amount)::int8 \(ledger)
                     GROUP BY c.id, v.id ORDER BY 4 DESC, v.created_at, v.id LIMIT \(Self.digestTopRows)
                    """, userID: userID, report: report, on: connection)
            videos.note = "The \(Self.digestTopRows) videos that cost most in the period."
            digest.tables.append(videos)
        case .analytics:
            digest.tables.append(try await table(
                "By channel", columns: ["Channel", "Views", "Minutes watched", "Likes", "Comments", "Shares", "Subscribers +", "Subscribers −", "Revenue"],
                kinds: [.text, .count, .count, .count, .count, .count, .count, .count, .money],
                sql: """
                    SELECT c.name, sum(d.views)::int8, sum(d.minutes_watched)::int8, sum(d.likes)::int8, sum(d.comments)::int8,
                           sum(d.shares)::int8, sum(d.subscribers_gained)::int8, sum(d.subscribers_lost)::int8, coalesce(sum(d.revenue), 0)::int8
                      FROM channel_analytics_daily d JOIN channels c ON c.id = d.channel_id
                     WHERE c.user_id = $1 AND d.day BETWEEN $2::date AND $3::date AND (cardinality($4::text[]) = 0 OR c.id = ANY($4))
                     GROUP BY c.id ORDER BY 2 DESC, c.created_at, c.id
                    """, userID: userID, report: report, on: connection).summed())
        case .summary:
            break
        }
        return digest
    }

    /// Runs a query with `$1` the user, `$2`/`$3` the days and `$4` the channel filter.
    private func table(_ title: String, columns: [String], kinds: [ReportDigest.Style], sql: String, userID: String, report: Report,
                       on connection: PostgresConnection) async throws -> ReportDigest.Table {
        var rows: [[ReportValue]] = []
        for try await row in try await connection.query(bound(sql, userID: userID, report: report), logger: logger) {
            rows.append(try Self.digestValues(row, kinds: kinds))
        }
        return ReportDigest.Table(title: title, columns: zip(columns, kinds).map { ReportDigest.Column(name: $0, style: $1) }, rows: rows)
    }

    private func totals(sql: String, kinds: [ReportDigest.Style], userID: String, report: Report,
                        on connection: PostgresConnection) async throws -> [ReportValue]? {
        for try await row in try await connection.query(bound(sql, userID: userID, report: report), logger: logger) {
            return try Self.digestValues(row, kinds: kinds)
        }
        return nil
    }

    private func bound(_ sql: String, userID: String, report: Report) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(userID)
        bindings.append(report.from)
        bindings.append(report.to)
        bindings.append(report.channelIDs)
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    private static func digestValues(_ row: PostgresRow, kinds: [ReportDigest.Style]) throws -> [ReportValue] {
        let cells = row.makeRandomAccess()
        return try kinds.enumerated().map { index, kind in
            switch kind {
            case .text: (try cells[index].decode(String?.self)).map(ReportValue.text) ?? .empty
            case .count: (try cells[index].decode(Int64?.self)).map(ReportValue.integer) ?? .empty
            case .money: (try cells[index].decode(Int64?.self)).map(ReportValue.money) ?? .empty
            case .percent: (try cells[index].decode(Double?.self)).map(ReportValue.number) ?? .empty
            }
        }
    }
}

extension ReportDigest.Table {
    /// `a + b`, held at the bounds instead of wrapping.
    static func saturating(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// The table with a totals row: integer and money columns summed, the first cell "Total".
    func summed() -> Self {
        var copy = self
        guard !rows.isEmpty else { return copy }
        copy.totals = columns.indices.map { column -> ReportValue in
            if column == 0 { return .text("Total") }
            var integer: Int64 = 0
            var money: Int64 = 0
            var isMoney = false
            for row in rows where column < row.count {
                switch row[column] {
                case .integer(let value): integer = Self.saturating(integer, value)
                case .money(let value): money = Self.saturating(money, value); isMoney = true
                default: return .empty
                }
            }
            return isMoney ? .money(money) : .integer(integer)
        }
        return copy
    }
}
