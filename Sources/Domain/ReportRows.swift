import Foundation
import Logging
import PostgresNIO

/// One cell of a report row.
public enum ReportValue: Sendable, Equatable {
    case text(String)
    case integer(Int64)
    case number(Double)
    /// Micro-dollars, written as dollars with up to six decimals.
    case money(Int64)
    case empty

    /// The cell as text (numbers in their shortest exact form).
    public var text: String {
        switch self {
        case .text(let value): value
        case .integer(let value): String(value)
        case .number(let value): value.isFinite ? String(value) : ""
        case .money(let micros): Self.dollars(micros)
        case .empty: ""
        }
    }

    /// `12,345`: a count with its thousands grouped, for people to read.
    public static func grouped(_ number: Int64) -> String {
        let digits = String(number.magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (number < 0 ? "-" : "") + grouped
    }

    /// `12.5`, `0.000001`, `3`: micro-dollars as a decimal without trailing zeros.
    static func dollars(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return sign + String(magnitude / 1_000_000) + (fraction.isEmpty ? "" : "." + fraction)
    }
}

/// The rows of a report, read from one consistent snapshot (a repeatable-read, read-only
/// transaction) and handed over as they stream from Postgres: memory stays bounded whatever
/// the report's size.
public struct ReportRows: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Streams the report's rows to `row`, telling `progress` the share done (0–100) every
    /// tenth of the way.
    /// - Returns: how many rows there were.
    @discardableResult
    public func stream(_ report: Report, userID: String, progress: @Sendable (Int) async throws -> Void,
                       row: ([ReportValue]) async throws -> Void) async throws -> Int64 {
        try await snapshot { connection in
            let total = try await count(report, userID: userID, on: connection)
            var written: Int64 = 0
            var reported = 0
            let rows = try await connection.query(query(report, userID: userID), logger: logger)
            for try await cells in rows {
                try await row(Self.values(cells, of: report.type))
                written += 1
                let percent = total > 0 ? Int(min(99, written * 100 / total)) : 99
                if percent >= reported + 10 {
                    reported = percent
                    try await progress(percent)
                }
            }
            return written
        }
    }

    /// Runs `body` in a repeatable-read, read-only transaction: every query it makes sees the
    /// same snapshot, so a report is consistent while the data changes under it.
    func snapshot<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    func count(_ report: Report, userID: String, on connection: PostgresConnection) async throws -> Int64 {
        let (from, to, channels) = (report.from, report.to, report.channelIDs)
        let query: PostgresQuery = switch report.type {
        case .performance:
            """
            SELECT count(*) FROM videos v WHERE v.user_id = \(userID) AND v.status = 'published'
               AND (cardinality(\(channels)::text[]) = 0 OR v.channel_id = ANY(\(channels)))
            """
        case .cost:
            """
            SELECT count(*) FROM cost_ledger l JOIN videos v ON v.id = l.video_id
             WHERE l.user_id = \(userID) AND l.day BETWEEN \(from)::date AND \(to)::date
               AND (cardinality(\(channels)::text[]) = 0 OR v.channel_id = ANY(\(channels)))
            """
        case .analytics:
            """
            SELECT count(*) FROM channel_analytics_daily d JOIN channels c ON c.id = d.channel_id
             WHERE c.user_id = \(userID) AND d.day BETWEEN \(from)::date AND \(to)::date
               AND (cardinality(\(channels)::text[]) = 0 OR c.id = ANY(\(channels)))
            """
        case .summary: "SELECT 9::int8"
        }
        let rows = try await connection.query(query, logger: logger)
        for try await count in rows.decode(Int64.self) { return count }
        return 0
    }

    func query(_ report: Report, userID: String) -> PostgresQuery {
        let (from, to, channels) = (report.from, report.to, report.channelIDs)
        switch report.type {
        case .performance:
            return """
                SELECT c.id, c.name, v.id, v.title, v.youtube_video_id,
                       coalesce(sum(d.views), 0)::int8, coalesce(sum(d.minutes_watched), 0)::int8, coalesce(sum(d.likes), 0)::int8,
                       coalesce(sum(d.comments), 0)::int8, coalesce(sum(d.shares), 0)::int8,
                       CASE WHEN sum(d.views) > 0 THEN sum(d.likes + d.comments + d.shares)::float8 / sum(d.views) ELSE 0 END,
                       sum(d.revenue)::int8
                  FROM videos v JOIN channels c ON c.id = v.channel_id
                  LEFT JOIN video_analytics_daily d ON d.video_id = v.id AND d.day BETWEEN \(from)::date AND \(to)::date
                 WHERE v.user_id = \(userID) AND v.status = 'published'
                   AND (cardinality(\(channels)::text[]) = 0 OR c.id = ANY(\(channels)))
                 GROUP BY c.id, v.id ORDER BY c.created_at, c.id, v.created_at, v.id
                """
        case .cost:
            return """
                SELECT to_char(l.day, 'YYYY-MM-DD'), c.id, c.name, v.id, v.title, l.stage, l.provider, l.model, l.amount, l.basis
                  FROM cost_ledger l JOIN videos v ON v.id = l.video_id JOIN channels c ON c.id = v.channel_id
                 WHERE l.user_id = \(userID) AND l.day BETWEEN \(from)::date AND \(to)::date
                   AND (cardinality(\(channels)::text[]) = 0 OR c.id = ANY(\(channels)))
                 ORDER BY l.day, l.id
                """
        case .analytics:
            return """
                SELECT to_char(d.day, 'YYYY-MM-DD'), c.id, c.name, d.views, d.minutes_watched, d.average_view_duration::int8, d.likes,
                       d.comments, d.shares, d.subscribers_gained, d.subscribers_lost, d.revenue
                  FROM channel_analytics_daily d JOIN channels c ON c.id = d.channel_id
                 WHERE c.user_id = \(userID) AND d.day BETWEEN \(from)::date AND \(to)::date
                   AND (cardinality(\(channels)::text[]) = 0 OR c.id = ANY(\(channels)))
                 ORDER BY d.day, c.created_at, c.id
                """
        case .summary:
            // One row per figure, each a sum over the period (the quota is today's, YouTube's day).
            return """
                WITH ch AS (SELECT id FROM channels WHERE user_id = \(userID)
                              AND (cardinality(\(channels)::text[]) = 0 OR id = ANY(\(channels)))),
                     spend AS (SELECT coalesce(sum(l.amount), 0)::int8 AS amount FROM cost_ledger l JOIN videos v ON v.id = l.video_id
                                WHERE l.user_id = \(userID) AND l.day BETWEEN \(from)::date AND \(to)::date
                                  AND v.channel_id IN (SELECT id FROM ch)),
                     yt AS (SELECT coalesce(sum(d.views), 0)::int8 AS views, coalesce(sum(d.revenue), 0)::int8 AS revenue
                              FROM channel_analytics_daily d WHERE d.channel_id IN (SELECT id FROM ch)
                               AND d.day BETWEEN \(from)::date AND \(to)::date),
                     quota AS (SELECT count(*)::int8 AS accounts,
                                      coalesce(sum(quota_used) FILTER (WHERE quota_day = (now() AT TIME ZONE 'America/Los_Angeles')::date), 0)::int8 AS used,
                                      coalesce(sum(quota_limit), 0)::int8 AS quota_limit
                                 FROM youtube_accounts WHERE user_id = \(userID))
                SELECT 'videos_made', (SELECT count(*) FROM videos v WHERE v.user_id = \(userID) AND v.channel_id IN (SELECT id FROM ch)
                                        AND v.status IN ('completed', 'published') AND v.finished_at::date BETWEEN \(from)::date AND \(to)::date),
                       NULL::int8, NULL::float8
                UNION ALL SELECT 'videos_published', (SELECT count(*) FROM publications p JOIN videos v ON v.id = p.video_id
                                                       WHERE p.user_id = \(userID) AND p.status = 'published' AND v.channel_id IN (SELECT id FROM ch)
                                                         AND p.published_at::date BETWEEN \(from)::date AND \(to)::date), NULL, NULL
                UNION ALL SELECT 'spend', NULL, amount, NULL FROM spend
                UNION ALL SELECT 'revenue', NULL, revenue, NULL FROM yt
                UNION ALL SELECT 'return_on_cost', NULL, NULL, CASE WHEN spend.amount > 0 THEN yt.revenue::float8 / spend.amount END FROM spend, yt
                UNION ALL SELECT 'views', views, NULL, NULL FROM yt
                UNION ALL SELECT 'youtube_accounts', accounts, NULL, NULL FROM quota
                UNION ALL SELECT 'quota_used_today', used, NULL, NULL FROM quota
                UNION ALL SELECT 'quota_limit_today', quota_limit, NULL, NULL FROM quota
                """
        }
    }

    /// A row's cells as the report's values, column by column.
    static func values(_ row: PostgresRow, of type: ReportType) throws -> [ReportValue] {
        let cells = row.makeRandomAccess()
        func text(_ index: Int) throws -> ReportValue { (try cells[index].decode(String?.self)).map(ReportValue.text) ?? .empty }
        func integer(_ index: Int) throws -> ReportValue { (try cells[index].decode(Int64?.self)).map(ReportValue.integer) ?? .empty }
        func money(_ index: Int) throws -> ReportValue { (try cells[index].decode(Int64?.self)).map(ReportValue.money) ?? .empty }
        switch type {
        case .performance:
            return [try text(0), try text(1), try text(2), try text(3), try text(4), try integer(5), try integer(6), try integer(7),
                    try integer(8), try integer(9), .number(try cells[10].decode(Double.self)), try money(11)]
        case .cost:
            return [try text(0), try text(1), try text(2), try text(3), try text(4), try text(5), try text(6), try text(7), try money(8),
                    try text(9)]
        case .analytics:
            return [try text(0), try text(1), try text(2), try integer(3), try integer(4), try integer(5), try integer(6), try integer(7),
                    try integer(8), try integer(9), try integer(10), try money(11)]
        case .summary:
            // Each figure fills one of three columns: a count, an amount or a ratio.
            let metric = try cells[0].decode(String.self)
            if let count = try cells[1].decode(Int64?.self) { return [.text(metric), .integer(count)] }
            if let micros = try cells[2].decode(Int64?.self) { return [.text(metric), .money(micros)] }
            return [.text(metric), (try cells[3].decode(Double?.self)).map(ReportValue.number) ?? .empty]
        }
    }
}
