import Foundation
import Logging
import PostgresNIO

/// Units held on one account for today.
public struct QuotaReservation: Sendable, Equatable {
    public var accountID: String
    public var day: String
    public var units: Int
}

/// Spreads YouTube quota over a user's accounts. A reservation takes its units on one
/// account in SQL, holding the row locks of all the user's accounts while it chooses, so
/// concurrent reservations see each other and no account passes `limit - buffer` (the
/// table's CHECK would refuse it anyway). The choice prefers health, then headroom: equal
/// accounts fill evenly. Units count as spent once reserved: Google charges a call whether
/// or not its answer arrives, so the count never trails the real spend.
public struct QuotaAllocator: Sendable {
    public let client: PostgresClient
    public let policy: QuotaPolicy
    public let logger: Logger

    public init(client: PostgresClient, policy: QuotaPolicy, logger: Logger) {
        self.client = client
        self.policy = policy
        self.logger = logger
    }

    /// Reserves `units` on the best account of `userID` that can take them today.
    /// - Parameter channelID: when the user's channel is linked to a YouTube channel, only
    ///   the account of that channel may upload for it.
    /// - Returns: nil when no active, rested account has room: wait for `QuotaDay.nextReset`.
    public func reserve(userID: String, units: Int, channelID: String? = nil, now: Date = Date()) async throws -> QuotaReservation? {
        try await client.withTransaction(logger: logger) { connection in
            let locked = try await connection.query("SELECT id FROM youtube_accounts WHERE user_id = \(userID) ORDER BY id FOR UPDATE", logger: logger)
            for try await _ in locked {}
            return try await take(units, on: connection, now: now, userID: userID, channelID: channelID, accountID: nil)
        }
    }

    /// Reserves `units` more on one given account (a retried call that may be charged again).
    /// - Returns: nil when it has no room today.
    public func charge(accountID: String, units: Int, now: Date = Date()) async throws -> QuotaReservation? {
        try await client.withTransaction(logger: logger) { connection in
            try await take(units, on: connection, now: now, userID: nil, channelID: nil, accountID: accountID)
        }
    }

    /// Marks an account's quota spent for today: YouTube said `quotaExceeded` although the
    /// count said otherwise (units spent outside this fleet), so nothing more goes there today.
    public func exhaust(accountID: String, now: Date = Date()) async throws {
        try await client.query("""
            UPDATE youtube_accounts SET quota_used = quota_limit, quota_day = \(QuotaDay.of(now))::date, updated_at = now()
             WHERE id = \(accountID)
            """, logger: logger)
    }

    /// The one UPDATE that takes units on the best candidate (any rested account of `userID`,
    /// or exactly `accountID`) and writes `quota.warning` when the account crosses the warning
    /// share for the first time today.
    private func take(_ units: Int, on connection: PostgresConnection, now: Date, userID: String?, channelID: String?,
                      accountID: String?) async throws -> QuotaReservation? {
        let day = QuotaDay.of(now)
        let buffer = Int32(policy.safetyBuffer)
        let warning = policy.warningFraction
        // The CTE only chooses; every value written and the limit are taken from the row the
        // UPDATE holds (`a`), re-read after any wait for its lock, so no concurrent reserve,
        // charge or exhaust is ever lost and the limit is re-checked against the truth.
        let query: PostgresQuery = """
            WITH chosen AS (
                SELECT id
                  FROM youtube_accounts
                 WHERE status = 'active'
                   AND (\(accountID)::text IS NULL OR id = \(accountID))
                   AND (\(userID)::text IS NULL OR (user_id = \(userID) AND (cooldown_until IS NULL OR cooldown_until <= \(now))))
                   AND (\(channelID)::text IS NULL OR youtube_channel_id = \(channelID))
                   AND (CASE WHEN quota_day = \(day)::date THEN quota_used ELSE 0 END) + \(Int32(units)) <= quota_limit - \(buffer)
                 ORDER BY greatest(0, 100 - 10 * recent_failures) DESC,
                          quota_limit - (CASE WHEN quota_day = \(day)::date THEN quota_used ELSE 0 END) DESC, id
                 LIMIT 1
            )
            UPDATE youtube_accounts a
               SET quota_used = (CASE WHEN a.quota_day = \(day)::date THEN a.quota_used ELSE 0 END) + \(Int32(units)),
                   quota_day = \(day)::date,
                   warned_day = CASE WHEN (CASE WHEN a.quota_day = \(day)::date THEN a.quota_used ELSE 0 END) + \(Int32(units))
                                          >= a.quota_limit * \(warning) THEN \(day)::date ELSE a.warned_day END,
                   updated_at = now()
              FROM chosen
             WHERE a.id = chosen.id AND a.status = 'active'
               AND (CASE WHEN a.quota_day = \(day)::date THEN a.quota_used ELSE 0 END) + \(Int32(units)) <= a.quota_limit - \(buffer)
            RETURNING a.id, a.user_id, a.email, a.quota_used, a.quota_limit,
                      (a.quota_used >= a.quota_limit * \(warning) AND a.quota_used - \(Int32(units)) < a.quota_limit * \(warning))
            """
        let rows = try await connection.query(query, logger: logger)
        var taken: (id: String, userID: String, email: String, used: Int32, limit: Int32, crossed: Bool)?
        for try await row in rows.decode((String, String, String, Int32, Int32, Bool).self) { taken = row }
        guard let taken else { return nil }
        if taken.crossed {
            let data = DomainEvents.json(["account_id": taken.id, "email": taken.email, "quota_used": Int(taken.used),
                                          "quota_limit": Int(taken.limit), "resets_at": ISO8601DateFormatter().string(from: QuotaDay.nextReset(after: now))])
            try await DomainEvents.record(type: "quota.warning", userID: taken.userID, data: data, on: connection, logger: logger)
        }
        return QuotaReservation(accountID: taken.id, day: day, units: units)
    }
}
