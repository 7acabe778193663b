@testable import API
import Domain
import Foundation
import HTTPTypes
import TestSupport
import Testing

/// The analytics routes through the router: honest zeros before any sync, and one rate-limit
/// category for every analytics read.
@Suite struct AnalyticsAPITests {
    @Test func theOverviewIsZeroBeforeAnySyncAndNamesEveryChannel() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "numbers@example.com")
                let channel = try await api.call(.post, "/channels", json: ["name": "Numbers"], token: token).decode(Components.Schemas.Channel.self).id
                let overview = try await api.call(.get, "/analytics/overview?period=last_7_days", token: token)
                    .decode(Components.Schemas.AnalyticsOverview.self)
                #expect(overview.period == .last7Days)
                #expect(overview.metrics.totalViews == 0 && overview.metrics.totalRevenue == 0 && overview.metrics.engagementRate == 0)
                #expect(overview.topVideos.isEmpty)
                #expect(overview.channelPerformance.map(\.channelId) == [channel])
                #expect(overview.channelPerformance.first?.returnOnCost == nil, "no spend: no return to divide")
                #expect(try await api.call(.get, "/analytics/overview?period=last_year", token: token).status == .badRequest)
                let revenue = try await api.call(.get, "/analytics/revenue?period=last_90_days", token: token)
                    .decode(Components.Schemas.AnalyticsRevenue.self)
                #expect(revenue.period == .last90Days && revenue.totalRevenue == 0 && revenue.rpm == 0 && revenue.revenueComplete)
                #expect(revenue.series.isEmpty && revenue.byChannel.isEmpty && revenue.byVideo.isEmpty)
                let engagement = try await api.call(.get, "/analytics/engagement", token: token).decode(Components.Schemas.AnalyticsEngagement.self)
                #expect(engagement.totals.views == 0 && engagement.totals.likesPer1000 == 0 && engagement.totals.avgViewPercentage == nil)
            }
        }
    }

    @Test func everyAnalyticsReadCountsInTheAnalyticsCategory() async throws {
        try await withDatabase { db in
            var policy = TestAuth.generousLimits
            policy.analytics = .init(requests: 4, window: TestAuth.longWindow)
            try await withAPI(db, rateLimits: policy) { api in
                let token = try await signUp(api, db, "limited@example.com")
                let channel = try await api.call(.post, "/channels", json: ["name": "Limited"], token: token).decode(Components.Schemas.Channel.self).id
                let video = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Counted", "cost_limit": 5.0], token: token)
                    .decode(Components.Schemas.VideoAccepted.self).videoId
                #expect(try await api.call(.get, "/analytics/overview", token: token).headers[.xRateLimitLimit] == "4")
                #expect(try await api.call(.get, "/channels/\(channel)/analytics", token: token).headers[.xRateLimitRemaining] == "2")
                #expect(try await api.call(.get, "/videos/\(video)/analytics", token: token).headers[.xRateLimitRemaining] == "1")
                #expect(try await api.call(.get, "/analytics/overview", token: token).status == .ok)
                #expect(try await api.call(.get, "/analytics/overview", token: token).status == .tooManyRequests)
                // Other reads are in the general category still.
                #expect(try await api.call(.get, "/costs/summary", token: token).status == .ok)
            }
        }
    }

    /// Revenue and engagement through the router are the stored days summed by day, channel and
    /// video: each figure below is worked out by hand from the days written.
    @Test func revenueAndEngagementAreTheStoredDaysSummedByDayChannelAndVideo() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "earned@example.com", tier: "starter")
                func channel(_ name: String) async throws -> String {
                    try await api.call(.post, "/channels", json: ["name": name], token: token).decode(Components.Schemas.Channel.self).id
                }
                func video(_ channel: String) async throws -> String {
                    try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Earner", "cost_limit": 5.0], token: token)
                        .decode(Components.Schemas.VideoAccepted.self).videoId
                }
                let (a, b) = (try await channel("Alpha"), try await channel("Beta"))
                let (videoA, videoB) = (try await video(a), try await video(b))
                let (yesterday, before) = (QuotaDay.of(Date(), daysBefore: 1), QuotaDay.of(Date(), daysBefore: 2))
                func day(_ day: String, views: Int64, duration: Int64, likes: Int64, comments: Int64, shares: Int64, dollars: Double) -> AnalyticsDay {
                    AnalyticsDay(day: day, views: views, minutesWatched: views * duration / 60, averageViewDuration: duration, likes: likes,
                                 comments: comments, shares: shares, subscribersGained: 0, subscribersLost: 0, revenue: Money(dollars: dollars))
                }
                let store = AnalyticsStore(client: db.client, logger: db.logger)
                try await store.record(channelID: a, channel: [
                    day(before, views: 500, duration: 120, likes: 10, comments: 5, shares: 0, dollars: 1),
                    day(yesterday, views: 1000, duration: 60, likes: 50, comments: 10, shares: 5, dollars: 3),
                ], videos: [videoA: [day(yesterday, views: 800, duration: 60, likes: 40, comments: 8, shares: 4, dollars: 2.4)]])
                try await store.record(channelID: b, channel: [
                    day(yesterday, views: 2000, duration: 30, likes: 20, comments: 0, shares: 10, dollars: 2.5),
                ], videos: [videoB: [day(yesterday, views: 1500, duration: 30, likes: 15, comments: 0, shares: 9, dollars: 2)]])
                // Another user's days are not this user's.
                let stranger = try await signUp(api, db, "stranger-earned@example.com")
                let theirs = try await api.call(.post, "/channels", json: ["name": "Theirs"], token: stranger).decode(Components.Schemas.Channel.self).id
                try await store.record(channelID: theirs, channel: [day(yesterday, views: 9999, duration: 10, likes: 1, comments: 1, shares: 1, dollars: 99)],
                                       videos: [:])

                let revenue = try await api.call(.get, "/analytics/revenue?period=last_7_days", token: token).decode(Components.Schemas.AnalyticsRevenue.self)
                #expect(revenue.totalRevenue == 6.5 && revenue.views == 3500)
                #expect(abs(revenue.rpm - 6.5 * 1000 / 3500) < 1e-9)
                #expect(revenue.series.filter { $0.views > 0 }.map { "\($0.day) \($0.revenue) \($0.views)" } == ["\(before) 1.0 500", "\(yesterday) 5.5 3000"])
                #expect(revenue.byChannel.map { "\($0.id) \($0.revenue) \($0.views)" } == ["\(a) 4.0 1500", "\(b) 2.5 2000"], "by revenue, largest first")
                #expect(abs((revenue.byChannel.first?.rpm ?? 0) - 4000.0 / 1500) < 1e-9)
                #expect(revenue.byVideo.map { "\($0.id) \($0.revenue) \($0.views)" } == ["\(videoA) 2.4 800", "\(videoB) 2.0 1500"])
                #expect(revenue.revenueComplete)

                let engagement = try await api.call(.get, "/analytics/engagement?period=last_7_days", token: token)
                    .decode(Components.Schemas.AnalyticsEngagement.self)
                let totals = engagement.totals
                #expect(totals.views == 3500)
                #expect(abs(totals.likesPer1000 - 80.0 * 1000 / 3500) < 1e-9)
                #expect(abs(totals.commentsPer1000 - 15.0 * 1000 / 3500) < 1e-9)
                #expect(abs(totals.sharesPer1000 - 15.0 * 1000 / 3500) < 1e-9)
                // Seconds weighted by views: (500·120 + 1000·60 + 2000·30) / 3500 = 51.4.
                #expect(totals.avgViewDuration == 51)
                let alpha = try #require(engagement.byChannel.first { $0.key == a })
                #expect(alpha.views == 1500 && alpha.avgViewDuration == 80 && abs(alpha.likesPer1000 - 40) < 1e-9 && alpha.name == "Alpha")
                let beta = try #require(engagement.byChannel.first { $0.key == b })
                #expect(beta.views == 2000 && beta.avgViewDuration == 30 && abs(beta.sharesPer1000 - 5) < 1e-9)
                #expect(engagement.byVideo.map(\.key) == [videoB, videoA], "most viewed first")
                #expect(engagement.series.filter { $0.views > 0 }.map(\.key) == [before, yesterday])
            }
        }
    }

    /// The overview is served from its cache only while the facts it read are unchanged: new
    /// analytics days, ledger rows, a renamed channel or a published video each show at once.
    @Test func theCachedOverviewFollowsEveryChangeOfItsFacts() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "cached@example.com")
                let userID = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
                let channel = try await api.call(.post, "/channels", json: ["name": "Cached"], token: token).decode(Components.Schemas.Channel.self).id
                @Sendable func overview() async throws -> Components.Schemas.AnalyticsOverview {
                    try await api.call(.get, "/analytics/overview", token: token).decode(Components.Schemas.AnalyticsOverview.self)
                }
                #expect(try await overview().metrics.totalViews == 0)
                #expect(try await db.scalar("SELECT count(*) FROM analytics_overview_cache") == 1)
                let computedAt = try await db.scalar("SELECT extract(epoch FROM computed_at)::int8 * 1000000 FROM analytics_overview_cache")
                #expect(try await overview().metrics.totalViews == 0)
                #expect(try await db.scalar("SELECT extract(epoch FROM computed_at)::int8 * 1000000 FROM analytics_overview_cache") == computedAt,
                        "unchanged facts: served from the cache")
                // A sync stores days.
                let yesterday = QuotaDay.of(Date(), daysBefore: 1)
                try await AnalyticsStore(client: db.client, logger: db.logger).record(channelID: channel, channel: [
                    AnalyticsDay(day: yesterday, views: 700, minutesWatched: 70, averageViewDuration: 30, likes: 7, comments: 0, shares: 0,
                                 subscribersGained: 1, subscribersLost: 0, revenue: Money(micros: 2_000_000)),
                ], videos: [:])
                let synced = try await overview()
                #expect(synced.metrics.totalViews == 700 && synced.channelPerformance.first?.views == 700)
                // The workers spend on a video of the channel (yesterday: the overview ends yesterday).
                let video = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Spend", "cost_limit": 5.0], token: token)
                    .decode(Components.Schemas.VideoAccepted.self).videoId
                try await db.client.query("""
                    INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis,
                                             created_at)
                    VALUES (910001, 1, \(video), \(userID), 'script', 'openai', 'gpt-4o', 1, 'call', 1, 1000000, 'actual',
                            (\(yesterday)::date + time '12:00') AT TIME ZONE 'America/Los_Angeles')
                    """, logger: db.logger)
                let spent = try await overview()
                #expect(spent.channelPerformance.first?.cost == 1.0 && spent.channelPerformance.first?.returnOnCost == 2.0)
                // The channel is renamed.
                _ = try await api.call(.put, "/channels/\(channel)", json: ["name": "Renamed"], token: token)
                #expect(try await overview().channelPerformance.first?.name == "Renamed")
                // Another user's changes leave this user's cache alone.
                let other = try await signUp(api, db, "other-cache@example.com")
                _ = try await api.call(.post, "/channels", json: ["name": "Elsewhere"], token: other)
                let version = try await db.scalar("SELECT version FROM analytics_versions WHERE user_id = \(userID)")
                #expect(try await overview().channelPerformance.count == 1)
                #expect(try await db.scalar("SELECT version FROM analytics_versions WHERE user_id = \(userID)") == version)
                // Deleting the account takes its cache and version with it.
                try await db.client.query("DELETE FROM users WHERE id = \(userID)", logger: db.logger)
                #expect(try await db.scalar("SELECT count(*) FROM analytics_overview_cache WHERE user_id = \(userID)") == 0)
            }
        }
    }
}
