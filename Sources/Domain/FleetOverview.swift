import Foundation
import Logging
import PostgresNIO
import Queue

/// What the operator console shows of the whole fleet, across users: the workers and the
/// leader, the pipeline, the YouTube accounts' quota and the webhooks. Reads only.
public struct FleetOverview: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    // MARK: Workers

    public struct LiveWorker: Sendable, Equatable {
        public var record: WorkerRecord
        /// Jobs it holds a lease on now.
        public var running: Int
    }

    public struct Leadership: Sendable, Equatable {
        public var name: String
        public var leaderID: String
        public var electedAt: Date
        public var expiresAt: Date
    }

    /// Every registered worker with the jobs it runs, and the leases of leadership.
    public func workers() async throws -> (workers: [LiveWorker], leaders: [Leadership]) {
        let records = try await WorkerStore(client: client, logger: logger).list()
        var running: [String: Int] = [:]
        let counts = try await client.query("""
            SELECT worker_id, count(*) FROM jobs WHERE state = 'running' AND worker_id IS NOT NULL GROUP BY worker_id
            """, logger: logger)
        for try await (worker, count) in counts.decode((String, Int64).self) { running[worker] = Int(count) }
        var leaders: [Leadership] = []
        let rows = try await client.query("SELECT name, leader_id, elected_at, expires_at FROM leader ORDER BY name", logger: logger)
        for try await (name, leader, elected, expires) in rows.decode((String, String, Date, Date).self) {
            leaders.append(Leadership(name: name, leaderID: leader, electedAt: elected, expiresAt: expires))
        }
        return (records.map { LiveWorker(record: $0, running: running[$0.id] ?? 0) }, leaders)
    }

    // MARK: Pipeline

    public struct StageFigures: Sendable, Equatable {
        public var stage: String
        /// Stages of unfinished videos not started yet, and running.
        public var pending: Int
        public var running: Int
        /// Finished in the last hour, and their durations' p50 and p99 in seconds (nil: none).
        public var completedLastHour: Int
        public var failedLastHour: Int
        public var p50Seconds: Double?
        public var p99Seconds: Double?
    }

    public struct Pipeline: Sendable, Equatable {
        public var stages: [StageFigures]
        /// Videos per status (tasks left out).
        public var videos: [String: Int]
        /// What reservations hold now, across every user.
        public var reservedNow: Money
        /// Videos failed in the last 24 hours, by error code, the most frequent first.
        public var failuresByCode: [Failures]

        public struct Failures: Sendable, Equatable {
            public var code: String
            public var count: Int
        }
    }

    /// The pipeline now: each stage's waiting and running work and its last hour, the videos
    /// by status, the money held, and the last day's failures by code.
    public func pipeline() async throws -> Pipeline {
        var figures: [String: StageFigures] = Dictionary(uniqueKeysWithValues: PipelineStage.allCases.map {
            ($0.rawValue, StageFigures(stage: $0.rawValue, pending: 0, running: 0, completedLastHour: 0, failedLastHour: 0, p50Seconds: nil, p99Seconds: nil))
        })
        let stages = try await client.query("""
            SELECT s.stage,
                   count(*) FILTER (WHERE s.status = 'pending' AND v.status = 'processing'),
                   count(*) FILTER (WHERE s.status = 'running'),
                   count(*) FILTER (WHERE s.status = 'completed' AND s.finished_at >= now() - interval '1 hour'),
                   count(*) FILTER (WHERE s.status = 'failed' AND s.finished_at >= now() - interval '1 hour'),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at))
                       FILTER (WHERE s.status = 'completed' AND s.finished_at >= now() - interval '1 hour' AND s.started_at IS NOT NULL),
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at))
                       FILTER (WHERE s.status = 'completed' AND s.finished_at >= now() - interval '1 hour' AND s.started_at IS NOT NULL)
              FROM video_stages s JOIN videos v ON v.id = s.video_id
             WHERE v.status = 'processing' OR s.status = 'running' OR s.finished_at >= now() - interval '1 hour'
             GROUP BY s.stage
            """, logger: logger)
        for try await (stage, pending, running, completed, failed, p50, p99) in stages.decode((String, Int64, Int64, Int64, Int64, Double?, Double?).self) {
            figures[stage] = StageFigures(stage: stage, pending: Int(pending), running: Int(running), completedLastHour: Int(completed),
                                          failedLastHour: Int(failed), p50Seconds: p50, p99Seconds: p99)
        }
        var videos: [String: Int] = [:]
        for try await (status, count) in try await client.query("""
            SELECT status, count(*) FROM videos WHERE kind = 'video' GROUP BY status
            """, logger: logger).decode((String, Int64).self) {
            videos[status] = Int(count)
        }
        var reserved = Money.zero
        for try await amount in try await client.query("SELECT coalesce(sum(amount), 0)::int8 FROM cost_reservations", logger: logger)
            .decode(Int64.self) {
            reserved = Money(micros: amount)
        }
        var failures: [Pipeline.Failures] = []
        for try await (code, count) in try await client.query("""
            SELECT coalesce(error_code, 'unknown'), count(*) FROM videos
             WHERE status = 'failed' AND updated_at >= now() - interval '24 hours'
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20
            """, logger: logger).decode((String, Int64).self) {
            failures.append(Pipeline.Failures(code: code, count: Int(count)))
        }
        let order = PipelineStage.allCases.map(\.rawValue)
        return Pipeline(stages: figures.values.sorted { (order.firstIndex(of: $0.stage) ?? 99, $0.stage) < (order.firstIndex(of: $1.stage) ?? 99, $1.stage) },
                        videos: videos, reservedNow: reserved, failuresByCode: failures)
    }

    // MARK: YouTube

    public struct Account: Sendable, Equatable {
        public var id: String
        public var userID: String
        public var email: String
        public var channelName: String
        public var status: String
        /// Units spent today (Pacific).
        public var used: Int
        public var limit: Int
        /// 100 minus 10 per recent failure.
        public var health: Int
        public var coolingUntil: Date?
        public var lastError: String?
    }

    /// Every connected account's quota today, the uploads waiting for quota, and the next reset
    /// (midnight Pacific).
    public func youtube(now: Date = Date()) async throws -> (accounts: [Account], waitingUploads: Int, nextReset: Date) {
        var accounts: [Account] = []
        let rows = try await client.query("""
            SELECT id, user_id, email, channel_name, status,
                   CASE WHEN quota_day = (now() AT TIME ZONE 'America/Los_Angeles')::date THEN quota_used ELSE 0 END,
                   quota_limit, greatest(0, 100 - 10 * recent_failures), CASE WHEN cooldown_until > now() THEN cooldown_until END, last_error
              FROM youtube_accounts ORDER BY user_id, created_at, id
            """, logger: logger)
        for try await (id, user, email, channel, status, used, limit, health, cooling, error)
            in rows.decode((String, String, String, String, String, Int32, Int32, Int32, Date?, String?).self) {
            accounts.append(Account(id: id, userID: user, email: email, channelName: channel, status: status, used: Int(used), limit: Int(limit),
                                    health: Int(health), coolingUntil: cooling, lastError: error))
        }
        var waiting = 0
        for try await count in try await client.query("SELECT count(*) FROM publications WHERE status = 'waiting_quota'", logger: logger)
            .decode(Int64.self) {
            waiting = Int(count)
        }
        return (accounts, waiting, QuotaDay.nextReset(after: now))
    }

    // MARK: Webhooks

    public struct Endpoint: Sendable, Equatable {
        public var id: String
        public var userID: String
        /// Scheme and host only: a receiver's path or query may carry a secret.
        public var host: String
        public var status: String
        public var disabledReason: String?
        public var failingSince: Date?
    }

    /// Endpoints failing or disabled, and deliveries per status.
    public func webhooks() async throws -> (endpoints: [Endpoint], deliveries: [String: Int]) {
        var endpoints: [Endpoint] = []
        let rows = try await client.query("""
            SELECT id, user_id, url, status, disabled_reason, failing_since FROM webhook_endpoints
             WHERE status = 'disabled' OR failing_since IS NOT NULL
             ORDER BY failing_since NULLS LAST, id LIMIT 200
            """, logger: logger)
        for try await (id, user, url, status, reason, since) in rows.decode((String, String, String, String, String?, Date?).self) {
            let parsed = URLComponents(string: url)
            let host = parsed.map { "\($0.scheme ?? "?")://\($0.host ?? "?")" } ?? "?"
            endpoints.append(Endpoint(id: id, userID: user, host: host, status: status, disabledReason: reason, failingSince: since))
        }
        var deliveries: [String: Int] = [:]
        for try await (status, count) in try await client.query("SELECT status, count(*) FROM webhook_deliveries GROUP BY status", logger: logger)
            .decode((String, Int64).self) {
            deliveries[status] = Int(count)
        }
        return (endpoints, deliveries)
    }
}
