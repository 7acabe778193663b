import Domain
import Foundation
import Providers
import Queue
import Sandbox
import TestSupport
import Testing

/// The rest of the analytics against the sandbox: the 90-day backfill as a job with progress,
/// accounts that must grant the Analytics scopes again, and competitors and the most-popular
/// chart snapshot daily by the channel sync.
extension PublishingTests {
    @Test func theBackfillStoresNinetyDaysAsAJobAndAccountsWithoutTheScopesMustReconnect() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            let account = try await setup.connect(userID: user, email: "backfill@example.com")
            #expect(account.analyticsAccess == .granted)
            let channel = try await ChannelRepository(client: db.client, logger: db.logger)
                .create(userID: user, ChannelChanges(name: "Backfill", youtubeChannelID: account.youtubeChannelID)).id
            let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 1_200)
            _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "public")
            let backfills = AnalyticsBackfills(client: db.client, logger: db.logger)
            try await runWorkers(setup) {
                #expect(try await published(db, 1))
                // A hundred days later the account is connected again: 90 days are fetched, a window at a time.
                setup.clock.advance(100 * 86_400)
                let started = try #require(try await backfills.start(channelID: channel, userID: user, now: setup.clock.now))
                #expect(started.daysTotal == 90 && started.daysDone == 0 && started.status == .pending)
                #expect(started.firstDay == QuotaDay.of(setup.clock.now, daysBefore: 90) && started.lastDay == QuotaDay.of(setup.clock.now, daysBefore: 1))
                let done = try await eventually(timeout: .seconds(60)) { try await backfills.backfill(channelID: channel)?.status == .completed }
                #expect(done)
            }
            let backfill = try #require(try await backfills.backfill(channelID: channel))
            #expect(backfill.daysDone == 90 && backfill.lastError == nil)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'analytics.backfill' AND state = 'completed'") == 1)
            // Every day the sandbox has, and only those, with its views.
            let days = setup.sandbox.dailyMetrics(channelID: account.youtubeChannelID, from: backfill.firstDay, to: backfill.lastDay)
            let byDay = Dictionary(grouping: days, by: \.day).mapValues { $0.reduce(0) { $0 + $1.views } }
            #expect(byDay.count == 90)
            #expect(try await db.scalar("SELECT count(*) FROM channel_analytics_daily WHERE channel_id = \(channel)") == 90)
            #expect(try await db.scalar("SELECT sum(views)::int8 FROM channel_analytics_daily WHERE channel_id = \(channel)") == byDay.values.reduce(0, +))
            #expect(try await db.scalar("SELECT count(*) FROM video_analytics_daily WHERE video_id = \(video.id)") == 90)
            // Three windows of 30 days, each 1 + 1 units of the Analytics quota, none of the Data API's.
            #expect(try await db.scalar("SELECT analytics_quota_used FROM youtube_accounts WHERE id = \(account.id)") == 6)
            // Starting it again while it is fresh does nothing.
            #expect(try await backfills.start(channelID: channel, userID: user, now: setup.clock.now)?.status == .completed)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'analytics.backfill'") == 1)

            // An account connected before the Analytics scopes were asked for (migration 0113 marks them).
            try await db.client.query("UPDATE youtube_accounts SET analytics_granted = false, revenue_granted = false WHERE id = \(account.id)",
                                      logger: db.logger)
            #expect(try await setup.accounts.account(id: account.id, userID: user)?.analyticsAccess == .reconnectRequired)
            try await db.client.query("DELETE FROM analytics_backfills", logger: db.logger)
            let usedBefore = try await db.scalar("SELECT analytics_quota_used FROM youtube_accounts WHERE id = \(account.id)")
            try await runWorkers(setup) {
                _ = try await ChannelStats(client: db.client, logger: db.logger).requestSync(channelID: channel, userID: user)
                #expect(try await eventually(timeout: .seconds(60)) {
                    try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'channel.sync' AND state = 'completed'") >= 1
                })
            }
            #expect(try await db.scalar("SELECT analytics_quota_used FROM youtube_accounts WHERE id = \(account.id)") == usedBefore,
                    "no Analytics call without the scopes")
            #expect(try await backfills.backfill(channelID: channel) == nil, "no backfill either")
            // Connecting it again asks for the scopes; Google grants them.
            let again = try await setup.connect(userID: user, email: "backfill@example.com")
            #expect(again.id == account.id && again.analyticsAccess == .granted)
        }
    }

    /// Google answers a spent Analytics quota with a 403 as it does a refused scope; the sync
    /// must tell them apart, or one busy day would cost the account its grant.
    @Test func aSpentAnalyticsQuotaWaitsForTheResetAndKeepsTheGrant() async throws {
        // Every Analytics report costs more than the sandbox's day holds: Google says `quotaExceeded`.
        try await withSetup(sandbox: { $0.costs["reports.query"] = 20_000 }) { setup in
            let db = setup.db
            let user = try await db.createUser()
            let account = try await setup.connect(userID: user, email: "busy@example.com")
            let channel = try await ChannelRepository(client: db.client, logger: db.logger)
                .create(userID: user, ChannelChanges(name: "Busy", youtubeChannelID: account.youtubeChannelID)).id
            let stats = ChannelStats(client: db.client, logger: db.logger)
            let backfills = AnalyticsBackfills(client: db.client, logger: db.logger)
            var answersAfterFirstSync = 0
            try await runWorkers(setup) {
                for round in 1...2 {
                    _ = try await stats.requestSync(channelID: channel, userID: user)
                    #expect(try await eventually(timeout: .seconds(60)) {
                        try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'channel.sync' AND state = 'completed'") == round
                    })
                    if round == 1 {
                        // The backfill the first sync started asks too (or finds the quota already spent) and waits.
                        #expect(try await eventually(timeout: .seconds(60)) {
                            try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'analytics.backfill' AND state = 'scheduled'") == 1
                        })
                        answersAfterFirstSync = setup.sandbox.quotaExceededAnswers
                    }
                }
            }
            #expect((1...2).contains(answersAfterFirstSync))
            #expect(setup.sandbox.quotaExceededAnswers == answersAfterFirstSync, "nothing more is asked of Google before the reset")
            #expect(try await setup.accounts.account(id: account.id, userID: user)?.analyticsAccess == .granted)
            #expect(try await db.scalar("""
                SELECT count(*) FROM youtube_accounts
                 WHERE id = \(account.id) AND analytics_quota_used = analytics_quota_limit AND analytics_granted AND revenue_granted
                """) == 1)
            let backfill = try #require(try await backfills.backfill(channelID: channel))
            #expect(backfill.status != .failed && backfill.lastError == nil && backfill.daysDone == 0)
            #expect(try await db.scalar("SELECT count(*) FROM channel_analytics_daily WHERE channel_id = \(channel)") == 0)
        }
    }

    @Test func competitorsAndTheChartAreSnapshotDailyAndComparedWithTheUsersChannels() async throws {
        try await withSetup { setup in
            let db = setup.db
            let user = try await db.createUser()
            let account = try await setup.connect(userID: user, email: "rival@example.com")
            let channel = try await ChannelRepository(client: db.client, logger: db.logger)
                .create(userID: user, ChannelChanges(name: "Mine", youtubeChannelID: account.youtubeChannelID)).id
            let video = try await setup.completedVideo(userID: user, channelID: channel, bytes: 1_000)
            _ = try await setup.publications.request(videoID: video.id, userID: user, privacy: "public")
            let tech = try #require(setup.sandbox.publicChannels.first { $0.title == "Tech Daily" })
            let competitors = CompetitorStore(client: db.client, logger: db.logger)
            let (followed, created) = try await competitors.add(userID: user, youtubeChannelID: tech.id)
            #expect(created && followed.status == .pending)
            #expect(try await competitors.add(userID: user, youtubeChannelID: tech.id).created == false)
            let (unknown, _) = try await competitors.add(userID: user, youtubeChannelID: "UCunknownChannel0000000X")
            let trends = TrendStore(client: db.client, logger: db.logger)
            try await trends.follow(userID: user, region: "US", category: "28")
            let stats = ChannelStats(client: db.client, logger: db.logger)

            // What the sandbox says at each sync, read independently through the client.
            // A reader of its own, signed in afresh after the clock moves (tokens live an hour).
            @Sendable func reader() async throws -> String {
                let redirect = try #require(setup.sandbox.consent(to: setup.client.authorizationURL(state: "t", loginHint: nil), as: "reader@example.com"))
                let code = try #require(URLComponents(string: redirect)?.queryItems?.first { $0.name == "code" }?.value)
                return try await setup.client.exchange(code: code).accessToken
            }
            var token = ""
            var subscribers: [Int64] = []
            var charts: [[YouTubeChartVideo]] = []
            var recentViews: [Int64] = []
            var recentDates: [Date] = []
            try await runWorkers(setup) {
                #expect(try await published(db, 1))
                for day in 0..<2 {
                    if day > 0 { setup.clock.advance(86_400) }
                    _ = try await stats.requestSync(channelID: channel, userID: user)
                    let snapshots = try await eventually(timeout: .seconds(60)) {
                        let competitors = try await db.scalar("SELECT count(*) FROM competitor_snapshots")
                        let charts = try await db.scalar("SELECT count(DISTINCT day) FROM trending_videos")
                        // The sync finished too: another requested while it runs would be the same job.
                        let syncs = try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'channel.sync' AND state = 'completed'")
                        return competitors == day + 1 && charts == day + 1 && syncs == day + 1
                    }
                    #expect(snapshots)
                    token = try await reader()
                    subscribers.append(try #require(try await setup.client.channels(ids: [tech.id], accessToken: token).first).subscribers)
                    charts.append(try await setup.client.mostPopular(regionCode: "US", categoryID: "28", maxResults: 50, accessToken: token))
                }
                let uploads = try await setup.client.playlistVideos(playlistID: "UU" + tech.id.dropFirst(2), maxResults: 50, pageToken: nil,
                                                                    accessToken: token).videos
                recentViews = try await setup.client.videoStatistics(ids: uploads.map(\.videoID), accessToken: token).map(\.views).sorted()
                recentDates = uploads.compactMap(\.publishedAt)
            }
            let today = QuotaDay.of(setup.clock.now)
            let (own, compared) = try await competitors.comparison(userID: user, day: today, days: 30, now: setup.clock.now)
            let rival = try #require(compared.first { $0.id == followed.id })
            #expect(rival.status == .active && rival.title == "Tech Daily")
            let figures = try #require(rival.figures)
            #expect(figures.day == today && figures.subscribers == subscribers[1])
            #expect(figures.subscriberChange == subscribers[1] - subscribers[0])
            #expect(figures.recentVideos == 50)
            // The lower middle value, as percentile_disc(0.5) takes for the user's own channels.
            #expect(figures.medianViews == recentViews[(recentViews.count - 1) / 2])
            let month = setup.clock.now.addingTimeInterval(-28 * 86_400)
            #expect(figures.uploadsPerWeek == Double(recentDates.count { $0 >= month }) / 4)
            #expect(compared.first { $0.id == unknown.id }?.status == .notFound)
            #expect(compared.first { $0.id == unknown.id }?.figures == nil)
            let mine = try #require(own.first { $0.id == channel })
            #expect(mine.figures?.subscribers == (try await setup.client.channels(ids: [account.youtubeChannelID], accessToken: token).first?.subscribers))
            #expect(mine.figures?.uploadsPerWeek == 0.25 && mine.figures?.recentVideos == 1)

            // The chart's keywords: appearances over the two daily charts, counted here from the charts as the sandbox served them.
            let result = try await trends.trends(userID: user, region: "US", category: "28", days: 7, today: setup.clock.now)
            #expect(result.chartSnapshots == 2 && result.previousChartSnapshots == 0)
            #expect(result.chart.count == 10 && result.chartDay == today)
            var appearances: [String: Int] = [:]
            for chart in charts {
                for video in chart {
                    let words = video.title.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init) + video.tags.map { $0.lowercased() }
                    for word in Set(words) where word.count >= 3 && Int(word) == nil && !TrendStore.stopwords.contains(word) {
                        appearances[word, default: 0] += 1
                    }
                }
            }
            #expect(!result.chartKeywords.isEmpty)
            for keyword in result.chartKeywords {
                #expect(Int(keyword.current) == appearances[keyword.keyword], "\(keyword.keyword)")
                #expect(keyword.previous == 0 && keyword.growth == nil)
            }
            #expect(result.chartKeywords.first.map { Int($0.current) } == appearances.values.max())
        }
    }
}
