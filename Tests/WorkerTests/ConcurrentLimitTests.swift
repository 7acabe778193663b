import Domain
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// Limits and counters stay exact under concurrency: a quota write computes from the row it
/// updates, and every limit is counted after the lock that serialises it (a count in the
/// same statement as the lock sees the world before the lock's holder committed).
@Suite struct ConcurrentLimitTests {
    /// Waits until some backend of the database waits for a lock.
    static func waitForALockWaiter(_ db: TestDatabase) async throws {
        let waiting = try await eventually(timeout: .seconds(30)) {
            try await db.scalar("""
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                """) > 0
        }
        #expect(waiting, "no statement ever waited for the lock")
    }

    /// Whether `body` succeeded (true) or was refused for a plan limit (false); anything else throws.
    static func accepted(_ body: () async throws -> Void) async throws -> Bool {
        do {
            try await body()
            return true
        } catch {
            let domain = error as? DomainError ?? (error as? PostgresTransactionError)?.closureError as? DomainError
            guard domain?.code == .limitReached else { throw error }
            return false
        }
    }

    /// Runs `update` in a transaction that stays open until `waiter` (started after it) waits
    /// for a lock, then commits; returns what `waiter` returned.
    static func whileHolding<T: Sendable>(_ db: TestDatabase, _ update: PostgresQuery, _ waiter: () async throws -> T) async throws -> T {
        let (locked, lockedSignal) = AsyncStream.makeStream(of: Void.self)
        async let holder: Void = db.client.withTransaction(logger: db.logger) { connection in
            try await connection.query(update, logger: db.logger)
            lockedSignal.yield()
            try await waitForALockWaiter(db)
        }
        var signals = locked.makeAsyncIterator()
        _ = await signals.next()
        let result = try await waiter()
        try await holder
        return result
    }

    static func quotaUsed(_ db: TestDatabase, _ account: String) async throws -> Int {
        try await db.scalar("SELECT quota_used::int8 FROM youtube_accounts WHERE id = \(account)")
    }

    @Test func aChargeWaitingBehindAReservationLosesNoUnits() async throws {
        try await withDatabase { db in
            let user = try await db.createUser()
            let account = "yt_acc_race"
            try await db.client.query("""
                INSERT INTO youtube_accounts (id, user_id, email, youtube_channel_id, channel_name, access_token, refresh_token,
                                              token_expires_at, quota_limit, quota_day, quota_used)
                VALUES (\(account), \(user), 'race@example.com', 'UCrace', 'Race', '\\x00', '\\x00', now() + interval '1 hour',
                        10000, \(QuotaDay.of(Date()))::date, 500)
                """, logger: db.logger)
            let allocator = QuotaAllocator(client: db.client, policy: QuotaPolicy(), logger: db.logger)
            // A competing reservation of 1,600 units holds the account's row while the charge starts.
            let charged = try await Self.whileHolding(db, "UPDATE youtube_accounts SET quota_used = quota_used + 1600 WHERE id = \(account)") {
                try await allocator.charge(accountID: account, units: 5)
            }
            #expect(charged?.units == 5)
            #expect(try await Self.quotaUsed(db, account) == 500 + 1600 + 5)

            // A charge that no longer fits once the competitor committed is refused, not
            // written over the limit.
            try await db.client.query("UPDATE youtube_accounts SET quota_used = 9800 WHERE id = \(account)", logger: db.logger)
            let refused = try await Self.whileHolding(db, "UPDATE youtube_accounts SET quota_used = quota_used + 100 WHERE id = \(account)") {
                try await allocator.charge(accountID: account, units: 50)
            }
            #expect(refused == nil)
            #expect(try await Self.quotaUsed(db, account) == 9900)
        }
    }

    @Test func concurrentSubmissionsTakeExactlyThePlansMonthlyAllowance() async throws {
        try await withDatabase { db in
            let user = try await db.createUser(tier: "free")
            let channel = try await db.createChannel(userID: user)
            let submission = VideoSubmission(client: db.client, plan: .offline, logger: db.logger)
            let request = try VideoRequest(channelID: channel, title: "Race", description: nil, scriptStyle: nil, voiceID: nil,
                                           thumbnailStyle: nil, durationTarget: 12, keywords: [], costLimit: 1, qualityThreshold: 50,
                                           defaultCostLimit: 1)
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        try await Self.accepted { _ = try await submission.submit(userID: user, request) }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 10)
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE user_id = \(user)") == 10)
        }
    }

    @Test func concurrentCreatesTakeExactlyThePlansChannelsAndWebhooks() async throws {
        try await withDatabase { db in
            let user = try await db.createUser(tier: "free")
            let channels = ChannelRepository(client: db.client, logger: db.logger)
            let created = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await Self.accepted { _ = try await channels.create(userID: user, ChannelChanges(name: "Channel \(index)")) }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(created == 1)

            var policy = WebhookPolicy()
            policy.allowInsecureURLs = false
            let webhooks = WebhookRepository(client: db.client, cipher: try TokenCipher(key: Data(repeating: 3, count: 32)), policy: policy,
                                             logger: db.logger)
            for index in 0..<(WebhookRepository.maximumEndpoints - 2) {
                _ = try await webhooks.create(userID: user, url: "https://hooks\(index).example.com/in", events: ["video.completed"],
                                              description: nil, secret: nil)
            }
            let added = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<10 {
                    group.addTask {
                        try await Self.accepted {
                            _ = try await webhooks.create(userID: user, url: "https://more\(index).example.com/in", events: ["video.completed"],
                                                          description: nil, secret: nil)
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(added == 2)
            #expect(try await db.scalar("SELECT count(*) FROM webhook_endpoints WHERE user_id = \(user)") == WebhookRepository.maximumEndpoints)
        }
    }
}
