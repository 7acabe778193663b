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
        let cipher: TokenCipher
        let policy = QuotaPolicy()

        var accounts: YouTubeAccountRepository { YouTubeAccountRepository(client: db.client, cipher: cipher, policy: policy, logger: db.logger) }
        var publications: PublicationStore { PublicationStore(client: db.client, logger: db.logger) }

        func jobs() throws -> PublishJobs {
            let clock = clock
            return PublishJobs(client: db.client, gateway: client, cipher: cipher, policy: policy, storage: try fleet.storage,
                               now: { clock.now }, logger: db.logger)
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

        /// A completed video of `bytes` random bytes with a thumbnail, as the pipeline leaves one.
        func completedVideo(userID: String, channelID: String, bytes: Int) async throws -> (id: String, data: Data) {
            let id = PrefixedID.make("vid_")
            let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255) })
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-\(id).mp4")
            try data.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let storage = try fleet.storage
            let size = try await storage.put(key: "videos/\(id)/video.mp4", file: file, contentType: "video/mp4")
            try Data(base64Encoded: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")!.write(to: file)
            let thumbnail = try await storage.put(key: "videos/\(id)/thumbnail.png", file: file, contentType: "image/png")
            try await db.client.query("""
                INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                    status, progress, cost_limit, quality_score, finished_at)
                VALUES (\(id), \(userID), \(channelID), \("Published " + id), 'educational', 'voice_professional_male', 'modern', 30, 50,
                        'completed', 100, 1000000, 90, now())
                """, logger: db.logger)
            try await db.client.query("""
                INSERT INTO artifacts (video_id, kind, storage_key, content_type, size_bytes)
                VALUES (\(id), 'video', \("videos/\(id)/video.mp4"), 'video/mp4', \(size)),
                       (\(id), 'thumbnail', \("videos/\(id)/thumbnail.png"), 'image/png', \(thumbnail))
                """, logger: db.logger)
            return (id, data)
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
                let client = YouTubeClient(endpoints: .sandbox(base, redirectURL: "http://127.0.0.1:1/callback"), chunkSize: 256 << 10,
                                           timeout: .seconds(10), chunkRetries: 30, retryDelay: .milliseconds(5))
                let cipher = try TokenCipher(key: Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
                return try await body(Setup(db: db, fleet: PipelineFleet(db: db), client: client, sandbox: sandbox, clock: clock, cipher: cipher))
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
            let jobs = try setup.jobs()
            let clock = setup.clock
            let waker = QuotaResetWaker(publications: setup.publications, interval: .milliseconds(100), now: { clock.now })
            try await setup.fleet.run(workers: 8, queues: [PublishJobArgs.queue: 4], register: { jobs.register(into: &$0) }, tasks: [waker]) {
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
}
