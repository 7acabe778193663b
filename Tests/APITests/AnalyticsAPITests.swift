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
                let channel = try #require(try await api.call(.post, "/channels", json: ["name": "Numbers"], token: token).body["id"] as? String)
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
            policy.analytics = .init(requests: 3, window: TestAuth.longWindow)
            try await withAPI(db, rateLimits: policy) { api in
                let token = try await signUp(api, db, "limited@example.com")
                let channel = try #require(try await api.call(.post, "/channels", json: ["name": "Limited"], token: token).body["id"] as? String)
                #expect(try await api.call(.get, "/analytics/overview", token: token).headers[.xRateLimitLimit] == "3")
                #expect(try await api.call(.get, "/channels/\(channel)/analytics", token: token).headers[.xRateLimitRemaining] == "1")
                #expect(try await api.call(.get, "/analytics/overview", token: token).status == .ok)
                #expect(try await api.call(.get, "/analytics/overview", token: token).status == .tooManyRequests)
                // Other reads are in the general category still.
                #expect(try await api.call(.get, "/costs/summary", token: token).status == .ok)
            }
        }
    }

    /// The overview is served from its cache only while the facts it read are unchanged: new
    /// analytics days, ledger rows, a renamed channel or a published video each show at once.
    @Test func theCachedOverviewFollowsEveryChangeOfItsFacts() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "cached@example.com")
                let userID = try #require(try await api.call(.get, "/users/profile", token: token).body["id"] as? String)
                let channel = try #require(try await api.call(.post, "/channels", json: ["name": "Cached"], token: token).body["id"] as? String)
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
