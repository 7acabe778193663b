import Foundation
import Logging
import PostgresNIO

/// The figures of a user's account at a glance, as the analytics stream sends them: videos by
/// status, spending, and YouTube reach and quota. One statement, read-only.
public struct LiveAnalytics: Sendable {
    private let client: PostgresClient
    private let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The user's figures now, as a JSON object (text, keys in a fixed order):
    /// `videos` (count per status), `cost` (`today` and `month` from the ledger in dollars,
    /// `reserved` by running stages), `youtube` (`accounts`, `active_accounts`, today's
    /// `quota_used` and `quota_limit` summed over the accounts, `subscribers` and `views` from
    /// the latest snapshot of each linked channel).
    public func snapshot(userID: String) async throws -> String {
        let rows = try await client.query("""
            WITH v AS (
                SELECT count(*) FILTER (WHERE status = 'processing') AS processing,
                       count(*) FILTER (WHERE status = 'completed') AS completed,
                       count(*) FILTER (WHERE status = 'published') AS published,
                       count(*) FILTER (WHERE status = 'failed') AS failed,
                       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                       coalesce(sum(reserved) FILTER (WHERE status = 'processing'), 0) AS reserved
                  FROM videos WHERE user_id = \(userID)
            ), c AS (
                SELECT coalesce(sum(amount) FILTER (WHERE created_at >= date_trunc('day', now())), 0) AS today,
                       coalesce(sum(amount), 0) AS month
                  FROM cost_ledger WHERE user_id = \(userID) AND created_at >= date_trunc('month', now())
            ), a AS (
                SELECT count(*) AS accounts, count(*) FILTER (WHERE status = 'active') AS active,
                       coalesce(sum(quota_used) FILTER (WHERE quota_day = (now() AT TIME ZONE 'America/Los_Angeles')::date), 0) AS used,
                       coalesce(sum(quota_limit), 0) AS quota_limit
                  FROM youtube_accounts WHERE user_id = \(userID)
            ), s AS (
                SELECT coalesce(sum(latest.subscribers), 0) AS subscribers, coalesce(sum(latest.views), 0) AS views
                  FROM channels ch
                  CROSS JOIN LATERAL (SELECT subscribers, views FROM channel_snapshots cs
                                       WHERE cs.channel_id = ch.id ORDER BY day DESC LIMIT 1) latest
                 WHERE ch.user_id = \(userID)
            )
            SELECT json_build_object(
                       'videos', json_build_object('processing', v.processing, 'completed', v.completed, 'published', v.published,
                                                   'failed', v.failed, 'cancelled', v.cancelled),
                       'cost', json_build_object('today', c.today / 1e6, 'month', c.month / 1e6, 'reserved', v.reserved / 1e6),
                       'youtube', json_build_object('accounts', a.accounts, 'active_accounts', a.active, 'quota_used', a.used,
                                                    'quota_limit', a.quota_limit, 'subscribers', s.subscribers, 'views', s.views))::text
              FROM v, c, a, s
            """, logger: logger)
        for try await json in rows.decode(String.self) { return json }
        return "{}"
    }

    /// The overview's headline figures over the last 30 days (`GET /analytics/overview`'s
    /// `period`, `from`, `to` and `metrics`), as JSON text: what `analytics.update` carries on
    /// `/ws/{client_id}` when a sync stored new days.
    public func headline(userID: String, now: Date = Date()) async throws -> String {
        let headline = try await AnalyticsStore(client: client, logger: logger).headline(userID: userID, days: 30, now: now)
        return DomainEvents.json([
            "period": "last_30_days", "from": headline.from, "to": headline.to,
            "metrics": [
                "total_views": headline.totalViews, "total_revenue": headline.totalRevenue.dollars,
                "avg_view_duration": headline.averageViewDuration, "engagement_rate": headline.engagementRate,
                "subscriber_growth": headline.subscriberGrowth,
            ] as [String: any Sendable],
        ])
    }
}
