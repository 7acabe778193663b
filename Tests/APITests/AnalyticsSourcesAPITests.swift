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
            let earlyChart = try #require(early.body["chart"] as? [String: Any])
            #expect(earlyChart["status"] as? String == "unavailable" && (earlyChart["status_reason"] as? String)?.isEmpty == false)

            let connected = try await connect(api, sandbox, token: token, email: "trends@example.com")
            #expect(connected.status == .created && connected.body["analytics_access"] as? String == "granted")
            let youtubeChannel = try #require(connected.body["youtube_channel_id"] as? String)
            let accountID = try #require(connected.body["account_id"] as? String)
            // A channel linked to the account starts its 90-day backfill.
            let channel = try #require(try await api.call(.post, "/channels", json: ["name": "Linked", "youtube_channel_id": youtubeChannel],
                                                          token: token).body["id"] as? String)
            let analytics = try await api.call(.get, "/channels/\(channel)/analytics", token: token)
            let backfill = try #require(analytics.body["analytics_backfill"] as? [String: Any], "\(analytics.body)")
            #expect(backfill["status"] as? String == "pending" && backfill["days_total"] as? Int == 90 && backfill["days_done"] as? Int == 0)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'analytics.backfill' AND state = 'available'") == 1)

            // Trends: today's chart is fetched on the first request, on the user's account.
            let unitsBefore = sandbox.quotaUsed(bucket: youtubeChannel)
            let trends = try await api.call(.get, "/analytics/trends?region_code=US&category_id=28&period=last_7_days", token: token)
            #expect(trends.status == .ok, "\(trends.body)")
            let chart = try #require(trends.body["chart"] as? [String: Any])
            #expect(chart["status"] as? String == "current" && chart["snapshots"] as? Int == 1 && chart["previous_snapshots"] as? Int == 0)
            let trending = try #require(chart["trending"] as? [[String: Any]])
            #expect(trending.count == 10 && trending.first?["rank"] as? Int == 1)
            let keywords = try #require(chart["keywords"] as? [[String: Any]])
            #expect(!keywords.isEmpty && keywords.allSatisfy { $0["growth"] == nil && ($0["current"] as? Int ?? 0) > 0 })
            #expect((chart["method"] as? String)?.contains("appearances") == true)
            let own = try #require(trends.body["own"] as? [String: Any])
            #expect(own["videos"] as? Int == 0 && (own["keywords"] as? [Any])?.isEmpty == true)
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
            let missingChart = try #require(missing.body["chart"] as? [String: Any], "\(missing.body)")
            #expect(missing.status == .ok && missingChart["status"] as? String == "unavailable")
            for bad in ["region_code=usa", "region_code=U1", "category_id=abc", "category_id=99", "period=yesterday"] {
                let refused = try await api.call(.get, "/analytics/trends?\(bad)", token: token)
                #expect(refused.status == .badRequest, "\(bad): \(refused.body)")
            }

            // Competitors: the first snapshot is taken at once; unknown channels are marked.
            let tech = try #require(sandbox.publicChannels.first { $0.title == "Tech Daily" })
            let added = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": tech.id], token: token)
            #expect(added.status == .created, "\(added.body)")
            #expect(added.body["status"] as? String == "active" && added.body["title"] as? String == "Tech Daily")
            let again = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": tech.id], token: token)
            #expect(again.status == .ok && again.body["competitor_id"] as? String == added.body["competitor_id"] as? String)
            let unknown = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": "UCunknownChannel0000000X"], token: token)
            #expect(unknown.status == .created && unknown.body["status"] as? String == "not_found")
            for bad in ["", "UC", "not a channel id at all!!", "UCsandboxTechDaily00000A/../x"] {
                let refused = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": bad], token: token)
                #expect(refused.status == .badRequest, "\(bad): \(refused.body)")
            }
            let comparison = try await api.call(.get, "/analytics/competitors?period=last_7_days", token: token)
            #expect(comparison.status == .ok, "\(comparison.body)")
            let rivals = try #require(comparison.body["competitors"] as? [[String: Any]])
            #expect(rivals.count == 2)
            let rival = try #require(rivals.first { $0["title"] as? String == "Tech Daily" })
            #expect((rival["subscribers"] as? Int ?? 0) >= tech.subscribers && rival["recent_videos"] as? Int == 50)
            #expect(rival["median_views"] as? Int != nil && rival["uploads_per_week"] as? Double != nil && rival["subscriber_change"] == nil)
            let mine = try #require((comparison.body["channels"] as? [[String: Any]])?.first)
            #expect(mine["id"] as? String == channel && mine["status"] as? String == "pending")
            // At most 10; removing one frees a place; another user's competitor is not found.
            for index in 0..<8 {
                let id = "UCfollowed" + String(format: "%014d", index)
                #expect(try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": id], token: token).status == .created)
            }
            let eleventh = try await api.call(.post, "/analytics/competitors", json: ["youtube_channel_id": "UCfollowed99999999999999"], token: token)
            #expect(eleventh.status == .forbidden && (eleventh.body["details"] as? [String: Any])?["reason"] as? String == "plan_limit_reached")
            let stranger = try await signUp(api, db, "stranger@example.com")
            let competitorID = try #require(added.body["competitor_id"] as? String)
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: stranger).status == .notFound)
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: token).status == .ok)
            #expect(try await api.call(.delete, "/analytics/competitors/\(competitorID)", token: token).status == .notFound)
            #expect((try await api.call(.get, "/analytics/competitors", token: stranger).body["competitors"] as? [Any])?.isEmpty == true)

            // An account connected before the Analytics scopes were asked for must connect again.
            try await db.client.query("UPDATE youtube_accounts SET analytics_granted = false, revenue_granted = false", logger: db.logger)
            let listed = try await api.call(.get, "/youtube/accounts", token: token)
            #expect((listed.body["accounts"] as? [[String: Any]])?.first?["analytics_access"] as? String == "reconnect_required")
            let reconnected = try await connect(api, sandbox, token: token, email: "trends@example.com")
            #expect(reconnected.body["account_id"] as? String == accountID && reconnected.body["analytics_access"] as? String == "granted")
            _ = youtube
        }
    }
}
