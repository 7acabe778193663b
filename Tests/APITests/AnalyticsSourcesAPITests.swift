@testable import API
import Domain
import Foundation
import Sandbox
import TestSupport
import Testing

/// `/analytics/trends` and `/analytics/competitors` through the router against the YouTube
/// sandbox, the Analytics grant of accounts, and the backfill a linked channel starts.
extension YouTubeAPITests {
    @Test func trendsCompetitorsAndTheAnalyticsGrantThroughTheAPI() async throws {
        try await withYouTube { db, api, sandbox, youtube in
            let token = try await signUp(api, db, "trends@example.com")
            // Before any account: no chart can be fetched, and the answer says why.
            let early = try await api.call(.get, "/analytics/trends?region_code=US", token: token)
            #expect(early.status == .ok, "\(early.body)")
            let earlyChart = try early.decode(Components.Schemas.AnalyticsTrends.self).chart
            #expect(earlyChart.status == .unavailable && earlyChart.statusReason?.isEmpty == false)

            let connected = try await connect(api, sandbox, token: token, email: "trends@example.com")
            #expect(connected.status == .created)
            let account = try connected.decode(Components.Schemas.YouTubeAccount.self)
            #expect(account.analyticsAccess == .granted)
            let (youtubeChannel, accountID) = (account.youtubeChannelId, account.accountId)
            // A channel linked to the account starts its 90-day backfill.
            let channel = try await api.call(.post, "/channels", json: ["name": "Linked", "youtube_channel_id": youtubeChannel], token: token)
                .decode(Components.Schemas.Channel.self).id
            let analytics = try await api.call(.get, "/channels/\(channel)/analytics", token: token)
            let backfill = try #require(try analytics.decode(Components.Schemas.ChannelAnalytics.self).analyticsBackfill, "\(analytics.body)")
            #expect(backfill.status == .pending && backfill.daysTotal == 90 && backfill.daysDone == 0)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'analytics.backfill' AND state = 'available'") == 1)

            // Trends: today's chart is fetched on the first request, on the user's account.
            let unitsBefore = sandbox.quotaUsed(bucket: youtubeChannel)
            let trends = try await api.call(.get, "/analytics/trends?region_code=US&category_id=28&period=last_7_days", token: token)
            #expect(trends.status == .ok, "\(trends.body)")
            let answer = try trends.decode(Components.Schemas.AnalyticsTrends.self)
            let chart = answer.chart
            #expect(chart.status == .current && chart.snapshots == 1 && chart.previousSnapshots == 0)
            #expect(chart.trending.count == 10 && chart.trending.first?.rank == 1)
            #expect(!chart.keywords.isEmpty && chart.keywords.allSatisfy { $0.growth == nil && $0.current > 0 })
            #expect(chart.method.contains("appearances"))
            #expect(answer.own.videos == 0 && answer.own.keywords.isEmpty)
            #expect(sandbox.quotaUsed(bucket: youtubeChannel) == unitsBefore + 1)
            // A second request the same day reads the stored chart.
            _ = try await api.call(.get, "/analytics/trends?region_code=US&category_id=28", token: token)
            #expect(sandbox.quotaUsed(bucket: youtubeChannel) == unitsBefore + 1)
            // Concurrent first requests of a chart fetch (and pay for) it once.
            let beforeBritain = sandbox.quotaUsed(bucket: youtubeChannel)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { _ = try await api.call(.get, "/analytics/trends?region_code=GB", token: token) }
                }
                try await group.waitForAll()
            }
            #expect(sandbox.quotaUsed(bucket: youtubeChannel) == beforeBritain + 1)
            // A chart YouTube does not have is unavailable, with the reason.
            let missing = try await api.call(.get, "/analytics/trends?region_code=JP&category_id=28", token: token)
            #expect(missing.status == .ok, "\(missing.body)")
            #expect(try missing.decode(Components.Schemas.AnalyticsTrends.self).chart.status == .unavailable)
            for bad in ["region_code=usa", "region_code=U1", "category_id=abc", "category_id=99", "period=yesterday"] {
                let refused = try await api.call(.get, "/analytics/trends?\(bad)", token: token)
                #expect(refused.status == .badRequest, "\(bad): \(refused.body)")
            }

            // Competitors: the first snapshot is taken at once; unknown channels are marked.
            let tech = try #require(sandbox.publicChannels.first { $0.title == "Tech Daily" })
            let added = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": tech.id], token: token)
            #expect(added.status == .created, "\(added.body)")
            let followed = try added.decode(Components.Schemas.Competitor.self)
            #expect(followed.status == .active && followed.title == "Tech Daily")
            let again = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": tech.id], token: token)
            #expect(try again.status == .ok && again.decode(Components.Schemas.Competitor.self).competitorId == followed.competitorId)
            let unknown = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": "UCunknownChannel0000000X"], token: token)
            #expect(try unknown.status == .created && unknown.decode(Components.Schemas.Competitor.self).status == .notFound)
            for bad in ["", "UC", "not a channel id at all!!", "UCsandboxTechDaily00000A/../x"] {
                let refused = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": bad], token: token)
                #expect(refused.status == .badRequest, "\(bad): \(refused.body)")
            }
            let comparison = try await api.call(.get, "/analytics/competitors?period=last_7_days", token: token)
            #expect(comparison.status == .ok, "\(comparison.body)")
            let compared = try comparison.decode(Components.Schemas.CompetitorComparison.self)
            #expect(compared.competitors.count == 2)
            let rival = try #require(compared.competitors.first { $0.title == "Tech Daily" })
            #expect((rival.subscribers ?? 0) >= Int64(tech.subscribers) && rival.recentVideos == 50)
            #expect(rival.medianViews != nil && rival.uploadsPerWeek != nil && rival.subscriberChange == nil)
            let mine = try #require(compared.channels.first)
            #expect(mine.id == channel && mine.status == .pending)
            // At most 10; removing one frees a place; another user's competitor is not found.
            for index in 0..<8 {
                let id = "UCfollowed" + String(format: "%014d", index)
                #expect(try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": id], token: token).status == .created)
            }
            let eleventh = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": "UCfollowed99999999999999"], token: token)
            #expect(try eleventh.status == .forbidden && (eleventh.decode(Components.Schemas.ErrorEnvelope.self).details?.reason) == "plan_limit_reached")
            let stranger = try await signUp(api, db, "stranger@example.com")
            let competitorID = followed.competitorId
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: stranger).status == .notFound)
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: token).status == .ok)
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: token).status == .notFound)
            #expect(try await api.call(.get, "/analytics/competitors", token: stranger).decode(Components.Schemas.CompetitorComparison.self).competitors.isEmpty)

            // An account connected before the Analytics scopes were asked for must connect again.
            try await db.client.query("UPDATE youtube_accounts SET analytics_granted = false, revenue_granted = false", logger: db.logger)
            let listed = try await api.call(.get, "/youtube/accounts", token: token).decode(Components.Schemas.YouTubeAccountList.self)
            #expect(listed.accounts.first?.analyticsAccess == .reconnectRequired)
            let reconnected = try await connect(api, sandbox, token: token, email: "trends@example.com").decode(Components.Schemas.YouTubeAccount.self)
            #expect(reconnected.accountId == accountID && reconnected.analyticsAccess == .granted)
            _ = youtube
        }
    }
}
