import Foundation
import Logging
import PostgresNIO
import Queue

/// A named span of days in the user's time zone.
public enum CostPeriod: String, Sendable, CaseIterable {
    case currentMonth = "current_month"
    case lastMonth = "last_month"
    case today
    case last7Days = "last_7_days"
    case last30Days = "last_30_days"

    /// The SQL of its first and last day, given `t.today` (the user's local date).
    var bounds: (from: String, to: String) {
        switch self {
        case .currentMonth: ("date_trunc('month', t.today)::date", "t.today")
        case .lastMonth: ("(date_trunc('month', t.today) - interval '1 month')::date", "(date_trunc('month', t.today) - interval '1 day')::date")
        case .today: ("t.today", "t.today")
        case .last7Days: ("t.today - 6", "t.today")
        case .last30Days: ("t.today - 29", "t.today")
        }
    }
}

/// What a period cost, from the ledger and the reservations.
public struct CostSummary: Sendable, Equatable {
    public var period: CostPeriod
    public var from: String
    public var to: String
    public var total: Money
    /// By provider as billed; image models under their product (`dall-e`).
    public var breakdown: [String: Money]
    public var videosGenerated: Int
    public var reserved: Money
    public var assumed: Money
    public var budget: Money?
    public var budgetRemaining: Money?

    public var averagePerVideo: Money { videosGenerated == 0 ? .zero : Money(micros: total.micros / Int64(videosGenerated)) }
}

/// How a cost history is cut.
public enum CostGranularity: String, Sendable, CaseIterable { case day, week, month }
public enum CostGrouping: String, Sendable, CaseIterable { case provider, stage, channel }

/// One point of a cost history.
public struct CostPoint: Sendable, Equatable {
    public var start: String
    public var total: Money
    public var groups: [String: Money]?
}

/// The cost pages' reads. Every figure is a sum of ledger rows (or of reservations held now),
/// over the days the rows count in (`cost_ledger.day`, the user's local date).
public struct CostReports: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    /// The longest history one answer holds.
    public static let maximumPoints = 366

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The provider name the spec's breakdown uses: image models count under their product.
    static let providerName = "CASE WHEN l.model LIKE 'dall-e%' THEN 'dall-e' ELSE l.provider END"

    public func summary(userID: String, period: CostPeriod) async throws -> CostSummary {
        let (from, to) = period.bounds
        let rows = try await client.query("""
            WITH t AS (SELECT cost_local_day(\(userID), now()) AS today, cost_user_zone(\(userID)) AS zone),
                 b AS (SELECT \(unescaped: from) AS d_from, \(unescaped: to) AS d_to, t.today, t.zone FROM t),
                 l AS (SELECT \(unescaped: Self.providerName) AS name, l.amount, l.basis
                         FROM cost_ledger l, b WHERE l.user_id = \(userID) AND l.day BETWEEN b.d_from AND b.d_to)
            SELECT to_char(b.d_from, 'YYYY-MM-DD'), to_char(b.d_to, 'YYYY-MM-DD'),
                   coalesce((SELECT sum(amount) FROM l), 0)::int8,
                   coalesce((SELECT sum(amount) FROM l WHERE basis = 'assumed'), 0)::int8,
                   coalesce((SELECT array_agg(name ORDER BY name) FROM (SELECT DISTINCT name FROM l) n), '{}'),
                   coalesce((SELECT array_agg(s ORDER BY name) FROM (SELECT name, sum(amount)::int8 AS s FROM l GROUP BY name) n), '{}'),
                   (SELECT count(*) FROM videos v
                     WHERE v.user_id = \(userID) AND v.kind = 'video' AND v.status IN ('completed', 'publishing', 'waiting_quota', 'published')
                       AND v.finished_at >= (b.d_from::timestamp AT TIME ZONE b.zone)
                       AND v.finished_at < ((b.d_to + 1)::timestamp AT TIME ZONE b.zone)),
                   coalesce((SELECT sum(amount) FROM cost_reservations r WHERE r.video_id IN (SELECT id FROM videos WHERE user_id = \(userID))), 0)::int8,
                   CASE \(period.rawValue) WHEN 'today' THEN cb.daily_budget WHEN 'current_month' THEN cb.monthly_budget END,
                   CASE \(period.rawValue)
                       WHEN 'today' THEN (SELECT spent + reserved FROM cost_periods p WHERE p.user_id = \(userID) AND p.kind = 'day' AND p.starts_on = b.today)
                       WHEN 'current_month' THEN (SELECT spent + reserved FROM cost_periods p WHERE p.user_id = \(userID) AND p.kind = 'month'
                                                    AND p.starts_on = date_trunc('month', b.today)::date)
                   END
              FROM b LEFT JOIN cost_budgets cb ON cb.user_id = \(userID)
            """, logger: logger)
        for try await (from, to, total, assumed, names, sums, videos, reserved, budget, used)
            in rows.decode((String, String, Int64, Int64, [String], [Int64], Int64, Int64, Int64?, Int64?).self) {
            let remaining = budget.map { Money(micros: max(0, $0 - (used ?? 0))) }
            return CostSummary(period: period, from: from, to: to, total: Money(micros: total),
                               breakdown: Dictionary(zip(names, sums.map(Money.init(micros:))), uniquingKeysWith: { $0 + $1 }),
                               videosGenerated: Int(videos), reserved: Money(micros: reserved), assumed: Money(micros: assumed),
                               budget: budget.map(Money.init(micros:)), budgetRemaining: remaining)
        }
        throw DomainError(.notFound, "No such user")
    }

    /// Spend from `from` to `to` (local days, included), a point per `granularity` starting on
    /// or before `from` (weeks start on Monday), gaps as zero; with `grouping`, each point split.
    /// - Throws: `invalid` when `to` is before `from` or the answer would pass `maximumPoints`.
    public func history(userID: String, from: String?, to: String?, granularity: CostGranularity, grouping: CostGrouping?) async throws
        -> (from: String, to: String, points: [CostPoint]) {
        let key: String
        switch grouping {
        case .provider: key = Self.providerName
        case .stage: key = "l.stage"
        case .channel: key = "(SELECT v.channel_id FROM videos v WHERE v.id = l.video_id)"
        case nil: key = "NULL::text"
        }
        let fromDay = try from.map { try Self.checkedDay($0, field: "from") }
        let toDay = try to.map { try Self.checkedDay($0, field: "to") }
        let unit = granularity.rawValue
        let rows = try await client.query("""
            WITH t AS (SELECT coalesce(\(toDay)::date, cost_local_day(\(userID), now())) AS d_to),
                 b AS (SELECT coalesce(\(fromDay)::date, t.d_to - 29) AS d_from, t.d_to FROM t),
                 s AS (SELECT generate_series(date_trunc(\(unit), b.d_from::timestamp), b.d_to::timestamp,
                                                       make_interval(months => (\(unit)::text = 'month')::int, days => CASE \(unit)::text WHEN 'day' THEN 1 WHEN 'week' THEN 7 ELSE 0 END))::date AS start
                         FROM b WHERE b.d_from <= b.d_to
                          AND CASE \(unit)
                                WHEN 'day' THEN b.d_to - b.d_from + 1
                                WHEN 'week' THEN (date_trunc('week', b.d_to::timestamp)::date - date_trunc('week', b.d_from::timestamp)::date) / 7 + 1
                                ELSE (extract(year FROM b.d_to) * 12 + extract(month FROM b.d_to))::int
                                     - (extract(year FROM b.d_from) * 12 + extract(month FROM b.d_from))::int + 1
                              END <= \(Int32(Self.maximumPoints))),
                 l AS (SELECT date_trunc(\(unit), l.day::timestamp)::date AS start, \(unescaped: key) AS key, sum(l.amount)::int8 AS amount
                         FROM cost_ledger l, b WHERE l.user_id = \(userID) AND l.day BETWEEN b.d_from AND b.d_to
                        GROUP BY 1, 2)
            SELECT to_char(b.d_from, 'YYYY-MM-DD'), to_char(b.d_to, 'YYYY-MM-DD'), (SELECT count(*) FROM s), to_char(s.start, 'YYYY-MM-DD'),
                   l.key, coalesce(l.amount, 0)::int8
              FROM b LEFT JOIN s ON true LEFT JOIN l ON l.start = s.start
             ORDER BY s.start, l.key
            """, logger: logger)
        var bounds = ("", "")
        var count: Int64 = 0
        var points: [CostPoint] = []
        for try await (first, last, n, start, group, amount) in rows.decode((String, String, Int64, String?, String?, Int64).self) {
            bounds = (first, last)
            count = n
            guard let start else { continue }
            if points.last?.start != start {
                points.append(CostPoint(start: start, total: .zero, groups: grouping == nil ? nil : [:]))
            }
            var point = points.removeLast()
            point.total = point.total + Money(micros: amount)
            if grouping != nil, let group {
                var groups = point.groups ?? [:]
                groups[group] = (groups[group] ?? .zero) + Money(micros: amount)
                point.groups = groups
            }
            points.append(point)
        }
        guard bounds.0 <= bounds.1 else { throw DomainError(.invalid, "to must not be before from", field: "to") }
        guard count > 0 else {
            throw DomainError(.invalid, "the range holds more than \(Self.maximumPoints) \(unit)s; narrow it or use a coarser granularity", field: "from")
        }
        return (bounds.0, bounds.1, points)
    }

    /// A calendar day written `YYYY-MM-DD` (years 2000-2999), checked to exist.
    /// - Throws: `invalid` naming `field`.
    static func checkedDay(_ text: String, field: String) throws -> String {
        let invalid = DomainError(.invalid, "\(field) must be a date written YYYY-MM-DD", field: field)
        guard text.utf8.count == 10, text.wholeMatch(of: /2[0-9]{3}-[01][0-9]-[0-3][0-9]/) != nil else { throw invalid }
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard let date = formatter.date(from: text), formatter.string(from: date) == text else { throw invalid }
        return text
    }
}
