import Dispatcher
import Domain
import Foundation
import Providers
import Queue
import Sandbox
import Synchronization
import TestSupport
import Testing
import Worker

/// A clock tests move forward (a simulated day change), shared by the sandbox and the fleet.
final class TestClock: Sendable {
    private let current = Mutex(Date())
    var now: Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// Publishing against the YouTube sandbox: the quota allocator over 15 accounts under
/// concurrency, waiting for the reset, and at-most-once uploads.
@Suite struct PublishingTests {
    /// The fleet, the sandbox's client, and the stores these tests use.
    struct Setup {
        let db: TestDatabase
        let fleet: PipelineFleet
        let client: YouTubeClient
        let sandbox: YouTubeSandbox
        let clock: TestClock
        let sandboxURL: String
        let cipher: TokenCipher
        /// The key behind `cipher`, for child processes.
        let tokenKey: Data
        let policy = QuotaPolicy()

        var accounts: YouTubeAccountRepository { YouTubeAccountRepository(client: db.client, cipher: cipher, policy: policy, logger: db.logger) }
        var publications: PublicationStore { PublicationStore(client: db.client, logger: db.logger) }

        /// Publishing and syncing as the workers run them, on the test clock.
        func youtube() throws -> WorkerJobs.YouTube {
            let clock = clock
            return WorkerJobs.YouTube(integration: YouTubeIntegration(gateway: client, cipher: cipher, policy: policy), storage: try fleet.storage,
                                      now: { clock.now })
        }

        /// Runs `count` workers with `queues` and the dispatcher, both on the test clock.
        func run<T: Sendable>(workers count: Int, queues: [String: Int], _ body: () async throws -> T) async throws -> T {
            let clock = clock
            return try await fleet.run(workers: count, youtube: try youtube(), settings: try fleet.choreSettings(now: { clock.now }),
                                       queues: queues, body)
        }

        /// Connects the sandbox account `email` to `userID` through the OAuth round trip.
        func connect(userID: String, email: String) async throws -> YouTubeAccount {
            let redirect = try #require(sandbox.consent(to: client.authorizationURL(state: "s", loginHint: nil), as: email))
            let code = try #require(URLComponents(string: redirect)?.queryItems?.first { $0.name == "code" }?.value)
            let tokens = try await client.exchange(code: code)
            let channel = try await client.myChannel(accessToken: tokens.accessToken)
            return try await accounts.connect(userID: userID, email: try await client.email(accessToken: tokens.accessToken),
                                              channel: channel, tokens: tokens, now: clock.now)
        }

        func completedVideo(userID: String, channelID: String, bytes: Int) async throws -> (id: String, data: Data) {
            try await db.createCompletedVideo(userID: userID, channelID: channelID, bytes: bytes, storage: try fleet.storage)
        }
    }

    func withSetup<T: Sendable>(sandbox configure: (inout YouTubeSandbox.Configuration) -> Void = { _ in },
                                _ body: @Sendable (Setup) async throws -> T) async throws -> T {
        let clock = TestClock()
        var configuration = YouTubeSandbox.Configuration()
        configuration.now = { clock.now }
        configure(&configuration)
        let sandbox = YouTubeSandbox(configuration: configuration)
        return try await withDatabase { db in
            try await sandbox.withRunning { base in
                let sandboxURL = base
                let client = YouTubeClient(endpoints: .sandbox(base, redirectURL: "http://127.0.0.1:1/callback"), chunkSize: 256 << 10,
                                           timeout: .seconds(10), chunkRetries: 30, retryDelay: .milliseconds(5))
                let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
                return try await body(Setup(db: db, fleet: PipelineFleet(db: db), client: client, sandbox: sandbox, clock: clock,
                                            sandboxURL: sandboxURL, cipher: try TokenCipher(key: key), tokenKey: key))
            }
        }
    }

    @Test func fifteenAccountsNeverOverspendSpreadEvenlyAndTheOverflowWaitsForTheReset() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            var accounts: [YouTubeAccount] = []
            for index in 0..<15 { accounts.append(try await setup.connect(userID: user, email: "creator\(index)@example.com")) }
            var sent: [String: Data] = [:]
            for _ in 0..<300 {
                let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 4_000)
                sent[video.id] = video.data
                _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "private")
            }
            let clock = setup.clock
            try await setup.run(workers: 8, queues: [PublishJobArgs.queue: 4]) {
                // 10,000 units a day less the 100 kept free hold six uploads of 1,650: 90 today.
                #expect(try await eventually(timeout: .seconds(120)) {
                    let published = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'published'")
                    let waiting = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'waiting_quota'")
                    return published == 90 && waiting == 210
                })
                #expect(setup.sandbox.quotaExceededAnswers == 0)
                #expect(setup.sandbox.videos.count == 90)
                let perAccount = try await db.client.query("""
                    SELECT a.quota_used, a.quota_limit, (SELECT count(*) FROM publications p WHERE p.account_id = a.id AND p.status = 'published')
                      FROM youtube_accounts a
                    """, logger: db.logger)
                var uploads: [Int64] = []
                for try await (used, limit, published) in perAccount.decode((Int32, Int32, Int64).self) {
                    #expect(used <= limit)
                    uploads.append(published)
                }
                print("uploads per account on day 1: max \(uploads.max() ?? 0), min \(uploads.min() ?? 0)")
                #expect(uploads.count == 15 && uploads.max() == 6 && uploads.min() == 6)
                for account in accounts { #expect(setup.sandbox.quotaUsed(bucket: account.youtubeChannelID) <= 10_000) }
                #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'quota.warning'") == 15)
                #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'quota.exhausted'") == 1)
                #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'video.published'") == 90)
                #expect(try await db.scalar("SELECT count(DISTINCT waiting_until) FROM publications WHERE status = 'waiting_quota'") == 1)

                // The next Pacific day: the waiting uploads run on the fresh quota.
                clock.advance(86_400)
                #expect(try await eventually(timeout: .seconds(120)) {
                    let published = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'published'")
                    let waiting = try await db.scalar("SELECT count(*) FROM videos WHERE status = 'waiting_quota'")
                    return published == 180 && waiting == 120
                })
                #expect(setup.sandbox.quotaExceededAnswers == 0)
            }
            // Every upload arrived once, byte for byte, with its thumbnail.
            let stored = setup.sandbox.videos
            #expect(stored.count == 180)
            #expect(Set(stored.map(\.id)).count == 180)
            let youtubeIDs = try await db.client.query("SELECT id, youtube_video_id FROM videos WHERE status = 'published'", logger: db.logger)
            var byYouTubeID: [String: String] = [:]
            for try await (id, youtubeID) in youtubeIDs.decode((String, String).self) { byYouTubeID[youtubeID] = id }
            for video in stored {
                let id = try #require(byYouTubeID[video.id])
                #expect(video.bytes == sent[id])
                #expect(video.hasThumbnail)
            }
        }
    }

    /// Runs publish and sync jobs on 2 in-process workers (plus the dispatcher) while `body` runs.
    func runWorkers<T: Sendable>(_ setup: Setup, _ body: () async throws -> T) async throws -> T {
        try await setup.run(workers: 2, queues: [PublishJobArgs.queue: 2, "default": 2], body)
    }

    func published(_ db: TestDatabase, _ count: Int) async throws -> Bool {
        try await eventually(timeout: .seconds(60)) { try await db.scalar("SELECT count(*) FROM videos WHERE status = 'published'") == count }
    }

    @Test func expiredTokensAreRefreshedAndARevokedGrantTakesTheAccountOutOfRotation() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let first = try await setup.connect(userID: user, email: "first@example.com")
            let firstVideo = try await setup.completedVideo(userID: user, channelID: channel, bytes: 3_000)
            // The stored access token has expired: the upload refreshes it first.
            try await db.client.query("UPDATE youtube_accounts SET token_expires_at = now() - interval '1 hour'", logger: db.logger)
            let before = try #require(try await setup.accounts.credentials(accountID: first.id))
            _ = try await setup.publications.request(videoID: firstVideo.id, userID: user, privacy: "public")
            try await runWorkers(setup) {
                let done = try await published(db, 1)
                #expect(done)
            }
            let after = try #require(try await setup.accounts.credentials(accountID: first.id))
            #expect(after.accessToken != before.accessToken)
            #expect(after.expiresAt > Date())
            // The user revokes the app at Google; the next upload goes to the other account.
            let second = try await setup.connect(userID: user, email: "second@example.com")
            setup.sandbox.revoke(email: "first@example.com")
            try await db.client.query("UPDATE youtube_accounts SET token_expires_at = now() - interval '1 hour'", logger: db.logger)
            // Make the revoked account the allocator's first choice.
            try await db.client.query("UPDATE youtube_accounts SET quota_used = 5000 WHERE id = \(second.id)", logger: db.logger)
            let secondVideo = try await setup.completedVideo(userID: user, channelID: channel, bytes: 3_000)
            _ = try await setup.publications.request(videoID: secondVideo.id, userID: user, privacy: "public")
            try await runWorkers(setup) {
                let done = try await published(db, 2)
                #expect(done)
            }
            let accounts = try await setup.accounts.list(userID: user)
            #expect(accounts.first { $0.id == first.id }?.status == .authExpired)
            #expect(try await setup.publications.publication(videoID: secondVideo.id).accountID == second.id)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'account.auth_expired'") == 1)
            #expect(setup.sandbox.videos.map(\.channelID) == [first.youtubeChannelID, second.youtubeChannelID])
        }
    }

    @Test func aWorkerKilledMidUploadIsRescuedAndResumesTheSameSession() async throws {
        try await withSetup(sandbox: { $0.faults = .init(slowRate: 1, slowDelay: .milliseconds(300)) }) { setup in
            let db = setup.db
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            _ = try await setup.connect(userID: user, email: "resume@example.com")
            let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 3_000_000)
            _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "private")
            let child = try ChildProcess.ytempire(
                ["worker", "--queues", "video_publish=1", "--lease", "2s", "--grace", "1s", "--worker-id", "doomed-uploader"],
                databaseURL: db.urlString,
                environment: [
                    "YTEMPIRE_ARTIFACT_DIR": setup.fleet.artifacts.path, "YTEMPIRE_YOUTUBE_SANDBOX_URL": setup.sandboxURL,
                    "YTEMPIRE_TOKEN_KEY": setup.tokenKey.base64EncodedString(), "YTEMPIRE_YOUTUBE_CHUNK_SIZE": "262144", "LOG_LEVEL": "warning",
                ])
            // Kill it once part of the video is on the sandbox.
            let uploading = try await eventually(timeout: .seconds(60)) {
                setup.sandbox.sessions.contains { $0.received >= 262_144 && !$0.completed }
            }
            #expect(uploading, "the child never started uploading: \(child.output.suffix(800))")
            child.signal(SIGKILL)
            _ = await child.waitForExit()
            let sent = setup.sandbox.sessions.first?.received ?? 0
            try await runWorkers(setup) {
                let done = try await published(db, 1)
                #expect(done)
            }
            // One session, resumed where the dead worker left it: one video, byte for byte.
            #expect(setup.sandbox.sessions.count == 1)
            #expect(setup.sandbox.videos.count == 1)
            #expect(setup.sandbox.videos.first?.bytes == video.data)
            #expect(sent > 0 && sent < 3_000_000)
            #expect(try await db.scalar("SELECT attempt FROM jobs WHERE kind = 'video.publish'") == 2)
        }
    }

    @Test func analyticsOfThreeChannelsOverThirtyDaysAreTheSandboxsOwnFigures() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            var channels: [(id: String, youtubeID: String)] = []
            for name in ["north", "south", "east"] {
                let account = try await setup.connect(userID: user, email: "\(name)@example.com")
                let channel = try await ChannelRepository(client: db.client, logger: db.logger)
                    .create(userID: user, ChannelChanges(name: name, youtubeChannelID: account.youtubeChannelID)).id
                channels.append((channel, account.youtubeChannelID))
                for _ in 0..<2 {
                    let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 1_500)
                    _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "public")
                }
            }
            let stats = ChannelStats(client: db.client, logger: db.logger)
            try await runWorkers(setup) {
                let done = try await published(db, 6)
                #expect(done)
                // Thirty days later on YouTube's clock, each channel is synced.
                setup.clock.advance(30 * 86_400)
                for channel in channels { _ = try await stats.requestSync(channelID: channel.id, userID: user) }
                let synced = try await eventually(timeout: .seconds(60)) {
                    let channelsSynced = try await db.scalar("SELECT count(DISTINCT channel_id) FROM channel_analytics_daily")
                    let videosSynced = try await db.scalar("SELECT count(DISTINCT video_id) FROM video_analytics_daily")
                    let backfilled = try await db.scalar("SELECT count(*) FROM analytics_backfills WHERE status = 'completed'")
                    return channelsSynced == 3 && videosSynced == 6 && backfilled == 3
                }
                #expect(synced)
            }
            let store = AnalyticsStore(client: db.client, logger: db.logger)
            let overview = try await store.overview(userID: user, days: 30, now: setup.clock.now)
            // The same figures computed independently from the sandbox's own days.
            var views = 0, engaged = 0, growth = 0, seconds = 0, revenueMicros: Int64 = 0
            var perVideo: [String: Int] = [:], viewsByDay: [String: Int] = [:]
            for channel in channels {
                let days = setup.sandbox.dailyMetrics(channelID: channel.youtubeID, from: overview.from, to: overview.to)
                #expect(!days.isEmpty)
                let channelViews = days.reduce(0) { $0 + $1.views }
                #expect(overview.channels.first { $0.channelID == channel.id }?.views == Int64(channelViews))
                views += channelViews
                engaged += days.reduce(0) { $0 + $1.likes + $1.comments + $1.shares }
                growth += days.reduce(0) { $0 + $1.subscribersGained - $1.subscribersLost }
                seconds += days.reduce(0) { $0 + $1.views * $1.averageViewDuration }
                for (_, day) in Dictionary(grouping: days, by: \.day) {
                    revenueMicros += Money(dollars: (day.reduce(0.0) { $0 + $1.estimatedRevenue } * 1000).rounded() / 1000).micros
                }
                for day in days {
                    perVideo[day.videoID, default: 0] += day.views
                    viewsByDay[day.day, default: 0] += day.views
                }
            }
            #expect(overview.totalViews == Int64(views) && views > 0)
            #expect(overview.subscriberGrowth == Int64(growth))
            #expect(abs(overview.engagementRate - Double(engaged) / Double(views)) < 1e-9)
            #expect(abs(overview.totalRevenue.micros - revenueMicros) <= 10, "\(overview.totalRevenue) vs \(Money(micros: revenueMicros))")
            #expect(abs(overview.averageViewDuration - Int64((Double(seconds) / Double(views)).rounded())) <= 2)
            #expect(overview.topVideos.count == 6)
            #expect(overview.topVideos.first.map { Int($0.views) } == perVideo.values.max())
            // Revenue and engagement read the same days: totals, per day, per channel, per video.
            let total = try #require(try await store.figures(userID: user, from: overview.from, to: overview.to, grouping: .total).first)
            #expect(total.views == Int64(views) && total.revenue == overview.totalRevenue)
            #expect(abs(total.perThousand(total.likes + total.comments + total.shares) - Double(engaged) * 1000 / Double(views)) < 1e-9)
            let byDay = try await store.figures(userID: user, from: overview.from, to: overview.to, grouping: .day)
            let dayKeys = byDay.map { $0.key ?? "" }
            #expect(dayKeys == dayKeys.sorted() && byDay.reduce(0) { $0 + $1.views } == Int64(views))
            #expect(Dictionary(uniqueKeysWithValues: byDay.map { ($0.key ?? "", Int($0.views)) }).filter { $0.value > 0 }
                        == viewsByDay.filter { $0.value > 0 }, "each day's views are the sandbox's for that day")
            // RPM: revenue per thousand views, against the sandbox's revenue.
            #expect(abs(total.rpm - Double(revenueMicros) / 1000 / Double(views)) < 1e-3)
            let byVideo = try await store.figures(userID: user, from: overview.from, to: overview.to, grouping: .video, orderByRevenue: true)
            #expect(byVideo.count == 6 && byVideo.reduce(0) { $0 + $1.views } == Int64(views))
            #expect(zip(byVideo, byVideo.dropFirst()).allSatisfy { ($0.revenue ?? .zero) >= ($1.revenue ?? .zero) })
            #expect(try await store.revenueComplete(userID: user))
            // A second sync of the same days replaces them: no duplicates, the same figures.
            let rows = try await db.scalar("SELECT count(*) FROM channel_analytics_daily")
            try await runWorkers(setup) {
                for channel in channels { _ = try await stats.requestSync(channelID: channel.id, userID: user) }
                _ = try await eventually(timeout: .seconds(60)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'channel.sync' AND state = 'completed'") == 6
                }
            }
            #expect(try await db.scalar("SELECT count(*) FROM channel_analytics_daily") == rows)
            #expect(try await store.overview(userID: user, days: 30, now: setup.clock.now).totalViews == Int64(views))
            #expect(try await db.scalar("SELECT count(*) FROM youtube_accounts WHERE analytics_quota_used >= 3") == 3,
                    "each sync took 1 + 2 units of the Analytics quota, apart from the Data API's")
        }
    }

    @Test func channelSyncWritesSnapshotsThatAnalyticsReadBack() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            let account = try await setup.connect(userID: user, email: "stats@example.com")
            let channel = try await ChannelRepository(client: db.client, logger: db.logger)
                .create(userID: user, ChannelChanges(name: "Stats", youtubeChannelID: account.youtubeChannelID)).id
            let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 2_000)
            _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "public")
            let stats = ChannelStats(client: db.client, logger: db.logger)
            try await runWorkers(setup) {
                let done = try await published(db, 1)
                #expect(done)
                // An hour later on YouTube's clock, the video has views.
                setup.clock.advance(3_600)
                _ = try await stats.requestSync(channelID: channel, userID: user)
                #expect(try await eventually(timeout: .seconds(30)) {
                    try await db.scalar("SELECT count(*) FROM channel_snapshots") == 1
                })
                // The periodic sweep the dispatcher schedules, run now: a worker claims and runs it.
                let schedules = PeriodicJobStore(client: db.client, logger: db.logger)
                try await schedules.upsert(ChannelStats.syncSchedule)
                let sweep = try #require(try await schedules.runNow(id: ChannelStats.syncSchedule.id))
                #expect(try await eventually(timeout: .seconds(30)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE id = \(sweep.id) AND state = 'completed'") == 1
                })
            }
            // The periodic sweep finds nothing due right after a sync, and queues one once it is stale.
            #expect(try await stats.requestDueSyncs(age: .seconds(3600)) == 0)
            try await db.client.query("UPDATE channels SET last_synced_at = now() - interval '2 hours'", logger: db.logger)
            #expect(try await stats.requestDueSyncs(age: .seconds(3600)) == 1)
            #expect(try await stats.requestDueSyncs(age: .seconds(3600)) == 1)
            #expect(try await db.scalar("""
                SELECT count(*) FROM jobs WHERE kind = 'channel.sync' AND state IN ('available', 'scheduled', 'retryable', 'running')
                """) == 1, "a second round reuses the waiting sync")
            let analytics = try #require(try await stats.analytics(channelID: channel, userID: user, days: 30))
            let day = try #require(analytics.daily.last)
            let youtubeID = try #require(setup.sandbox.videos.first?.id)
            let statistics = try await setup.client.videoStatistics(ids: [youtubeID], accessToken: try #require(
                try await setup.accounts.credentials(accountID: account.id)).accessToken)
            #expect(day.videoCount == 1)
            #expect(day.views == statistics.first?.views)
            #expect(day.views > 0)
            let videoStats = try #require(try await stats.videoAnalytics(videoID: video.id, userID: user, days: 30))
            #expect(videoStats.daily.last?.views == statistics.first?.views)
            #expect(videoStats.youtubeID == youtubeID)
            let health = try #require(try await stats.health(channelID: channel, userID: user))
            #expect(health.score == 100, "\(health.factors)")
            #expect(try await db.scalar("SELECT health_score FROM channels WHERE id = \(channel)") == 100)
            #expect(try await stats.analytics(channelID: channel, userID: "usr_someone_else", days: 30) == nil)
        }
    }
}
