import Foundation
import Logging
import PostgresNIO
import Queue

/// Tokens of one account, opened.
public struct YouTubeCredentials: Sendable {
    public var accountID: String
    public var accessToken: String
    public var refreshToken: String
    public var expiresAt: Date
}

/// Connected YouTube accounts: connecting through OAuth (the `state` round trip), listing,
/// disconnecting, and their tokens sealed at rest with `TokenCipher`.
public struct YouTubeAccountRepository: Sendable {
    public let client: PostgresClient
    public let cipher: TokenCipher
    public let policy: QuotaPolicy
    public let logger: Logger

    public init(client: PostgresClient, cipher: TokenCipher, policy: QuotaPolicy, logger: Logger) {
        self.client = client
        self.cipher = cipher
        self.policy = policy
        self.logger = logger
    }

    // MARK: OAuth state

    /// A single-use `state` for the user's consent round trip, valid 15 minutes.
    public func beginConnect(userID: String) async throws -> String {
        let state = SecretToken.generate()
        try await client.query("""
            INSERT INTO oauth_states (state_hash, user_id, expires_at) VALUES (\(state.hash), \(userID), now() + interval '15 minutes')
            """, logger: logger)
        return state.value
    }

    /// The user a callback's `state` was issued to and their email, without using the state
    /// up; nil when it is unknown, used or expired.
    public func pendingConnect(state: String) async throws -> (userID: String, email: String)? {
        let rows = try await client.query("""
            SELECT u.id, u.email FROM oauth_states s JOIN users u ON u.id = s.user_id
             WHERE s.state_hash = \(SecretToken(value: state).hash) AND s.expires_at > now()
            """, logger: logger)
        for try await row in rows.decode((String, String).self) { return row }
        return nil
    }

    /// The user a callback's `state` was issued to (once), or nil when unknown or expired.
    public func finishConnect(state: String) async throws -> String? {
        let rows = try await client.query("""
            DELETE FROM oauth_states WHERE state_hash = \(SecretToken(value: state).hash) RETURNING user_id, expires_at > now()
            """, logger: logger)
        for try await (userID, fresh) in rows.decode((String, Bool).self) { return fresh ? userID : nil }
        return nil
    }

    // MARK: Accounts

    /// Stores a newly connected account, or refreshes the tokens of one already connected
    /// (reconnecting revives an `auth_expired` account).
    /// - Throws: `limitReached` past the plan's accounts (at most `policy.maximumAccounts`).
    public func connect(userID: String, email: String, channel: YouTubeChannelInfo, tokens: OAuthTokens, now: Date = Date()) async throws -> YouTubeAccount {
        guard let refresh = tokens.refreshToken else {
            throw DomainError(.invalid, "Google returned no refresh token; connect again and grant offline access")
        }
        let id: String = try await client.withTransaction(logger: logger) { connection in
            // The user's row serializes connects, so two at once cannot both take the last place
            // (locked first: the counts below must see the connects committed while it waited).
            try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
            let limits = try await connection.query("""
                SELECT t.youtube_accounts, (SELECT count(*) FROM youtube_accounts a WHERE a.user_id = u.id),
                       (SELECT a.id FROM youtube_accounts a WHERE a.user_id = u.id AND a.youtube_channel_id = \(channel.id))
                  FROM users u JOIN subscription_tiers t ON t.name = u.subscription_tier
                 WHERE u.id = \(userID)
                """, logger: logger)
            var found: (allowed: Int32, count: Int64, existing: String?)?
            for try await row in limits.decode((Int32, Int64, String?).self) { found = row }
            guard let found else { throw DomainError(.notFound, "The account no longer exists") }
            let id = found.existing ?? PrefixedID.make("yt_acc_")
            let access = ByteBuffer(bytes: try cipher.seal(tokens.accessToken, context: id))
            let sealedRefresh = ByteBuffer(bytes: try cipher.seal(refresh, context: id))
            if found.existing != nil {
                try await connection.query("""
                    UPDATE youtube_accounts SET email = \(email), channel_name = \(channel.title), status = 'active', access_token = \(access),
                           refresh_token = \(sealedRefresh), token_expires_at = \(tokens.expiresAt), last_error = NULL, updated_at = now(),
                           analytics_granted = \(tokens.grantsAnalytics), revenue_granted = \(tokens.grantsRevenue)
                     WHERE id = \(id)
                    """, logger: logger)
                return id
            }
            let allowed = min(Int(found.allowed), policy.maximumAccounts)
            guard found.count < allowed else {
                throw DomainError(.limitReached, "Your plan allows \(allowed) connected YouTube accounts and all are in use; disconnect one first",
                                  limit: allowed)
            }
            try await connection.query("""
                INSERT INTO youtube_accounts (id, user_id, email, youtube_channel_id, channel_name, access_token, refresh_token,
                                              token_expires_at, quota_limit, quota_day, analytics_granted, revenue_granted)
                VALUES (\(id), \(userID), \(email), \(channel.id), \(channel.title), \(access), \(sealedRefresh), \(tokens.expiresAt),
                        \(Int32(policy.dailyLimit)), \(QuotaDay.of(now))::date, \(tokens.grantsAnalytics), \(tokens.grantsRevenue))
                """, logger: logger)
            return id
        }
        guard let account = try await account(id: id, userID: userID, now: now) else { throw DomainError(.notFound, "The account vanished") }
        return account
    }

    /// How many accounts the user may connect (the plan's number, at most
    /// `policy.maximumAccounts`), how many are connected, and how many of those must be
    /// connected again (their grant expired, or they lack the Analytics scopes).
    public func capacity(userID: String) async throws -> (allowed: Int, used: Int, needReconnecting: Int) {
        let rows = try await client.query("""
            SELECT t.youtube_accounts, (SELECT count(*) FROM youtube_accounts a WHERE a.user_id = u.id),
                   (SELECT count(*) FROM youtube_accounts a WHERE a.user_id = u.id AND (a.status = 'auth_expired' OR NOT a.analytics_granted))
              FROM users u JOIN subscription_tiers t ON t.name = u.subscription_tier WHERE u.id = \(userID)
            """, logger: logger)
        for try await (allowed, used, stale) in rows.decode((Int32, Int64, Int64).self) {
            return (min(Int(allowed), policy.maximumAccounts), Int(used), Int(stale))
        }
        throw DomainError(.notFound, "The account no longer exists")
    }

    /// The user's accounts, oldest first.
    public func list(userID: String, now: Date = Date()) async throws -> [YouTubeAccount] {
        try await select(where: "user_id", is: userID, userID: userID, now: now)
    }

    public func account(id: String, userID: String, now: Date = Date()) async throws -> YouTubeAccount? {
        try await select(where: "id", is: id, userID: userID, now: now).first
    }

    private func select(where column: String, is value: String, userID: String, now: Date) async throws -> [YouTubeAccount] {
        let day = QuotaDay.of(now)
        let rows = try await client.query("""
            SELECT id, email, youtube_channel_id, channel_name,
                   CASE WHEN status = 'active' AND cooldown_until > \(now) THEN 'cooling_down' ELSE status END AS status,
                   (CASE WHEN quota_day = \(day)::date THEN quota_used ELSE 0 END)::int4 AS quota_used, quota_limit,
                   greatest(0, 100 - 10 * recent_failures)::int4 AS health_score, cooldown_until, last_error, created_at,
                   analytics_granted, revenue_granted
              FROM youtube_accounts WHERE \(unescaped: column) = \(value) AND user_id = \(userID)
             ORDER BY created_at, id
            """, logger: logger)
        let resets = QuotaDay.nextReset(after: now)
        var accounts: [YouTubeAccount] = []
        for try await row in rows {
            let c = NamedRow(row)
            accounts.append(YouTubeAccount(id: try c("id"), email: try c("email"), youtubeChannelID: try c("youtube_channel_id"),
                                           channelName: try c("channel_name"),
                                           status: try DatabaseValue.decode(try c("status", as: String.self), column: "youtube_accounts.status"),
                                           quotaUsed: Int(try c("quota_used", as: Int32.self)), quotaLimit: Int(try c("quota_limit", as: Int32.self)),
                                           healthScore: Int(try c("health_score", as: Int32.self)), cooldownUntil: try c("cooldown_until"),
                                           lastError: try c("last_error"), createdAt: try c("created_at"), quotaResetsAt: resets,
                                           analyticsAccess: AnalyticsAccess(analytics: try c("analytics_granted"), revenue: try c("revenue_granted"))))
        }
        return accounts
    }

    /// Disconnects an account; its publications keep their YouTube ids.
    /// - Returns: false when it is not the user's.
    public func delete(id: String, userID: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM youtube_accounts WHERE id = \(id) AND user_id = \(userID) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    // MARK: Tokens and health

    /// The account's tokens, opened.
    public func credentials(accountID: String) async throws -> YouTubeCredentials? {
        let rows = try await client.query("""
            SELECT access_token, refresh_token, token_expires_at FROM youtube_accounts WHERE id = \(accountID) AND status = 'active'
            """, logger: logger)
        for try await (access, refresh, expires) in rows.decode((ByteBuffer, ByteBuffer, Date).self) {
            return YouTubeCredentials(accountID: accountID, accessToken: try cipher.open(Data(buffer: access), context: accountID),
                                      refreshToken: try cipher.open(Data(buffer: refresh), context: accountID), expiresAt: expires)
        }
        return nil
    }

    /// Stores a refreshed access token (and a rotated refresh token, if Google sent one).
    public func storeRefreshed(accountID: String, tokens: OAuthTokens) async throws {
        let access = ByteBuffer(bytes: try cipher.seal(tokens.accessToken, context: accountID))
        let refresh = try tokens.refreshToken.map { ByteBuffer(bytes: try cipher.seal($0, context: accountID)) }
        try await client.query("""
            UPDATE youtube_accounts SET access_token = \(access), refresh_token = coalesce(\(refresh), refresh_token),
                   token_expires_at = \(tokens.expiresAt), updated_at = now()
             WHERE id = \(accountID)
            """, logger: logger)
    }

    /// Takes an account out of rotation after `invalid_grant`, telling its owner.
    public func markAuthExpired(accountID: String, message: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE youtube_accounts SET status = 'auth_expired', last_error = \(message), updated_at = now()
                 WHERE id = \(accountID) AND status = 'active'
                RETURNING user_id, email, youtube_channel_id
                """, logger: logger)
            for try await (userID, email, channelID) in rows.decode((String, String, String).self) {
                let data = DomainEvents.json(["account_id": accountID, "email": email, "youtube_channel_id": channelID, "message": message])
                try await DomainEvents.record(type: "account.auth_expired", userID: userID, data: data, on: connection, logger: logger)
            }
        }
    }

    /// A failed call: the health score drops 10 points and the account rests (longer after
    /// each failure in a row, at most a day).
    public func recordFailure(accountID: String, message: String) async throws {
        let base = policy.cooldown.seconds
        try await client.query("""
            UPDATE youtube_accounts SET recent_failures = least(recent_failures + 1, 10), last_error = \(message),
                   cooldown_until = now() + make_interval(secs => least(\(base) * power(2, least(recent_failures, 10)), 86400)),
                   updated_at = now()
             WHERE id = \(accountID)
            """, logger: logger)
    }

    /// A successful call: health recovers by one failure's worth.
    public func recordSuccess(accountID: String) async throws {
        try await client.query("""
            UPDATE youtube_accounts SET recent_failures = greatest(recent_failures - 1, 0), cooldown_until = NULL, updated_at = now()
             WHERE id = \(accountID) AND (recent_failures > 0 OR cooldown_until IS NOT NULL)
            """, logger: logger)
    }
}
