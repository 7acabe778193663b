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
}
