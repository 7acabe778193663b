import Crypto
import Foundation
import Logging
import PostgresNIO
import Queue

/// How a batch runs.
public struct BatchOptions: Sendable, Equatable {
    /// All videos at once (true), or one after another in the order given.
    public var parallel: Bool
    /// `high`, `normal` or `low`: the queue priority of the batch's jobs.
    public var priority: String
    /// A retried submission with the same key returns the same batch.
    public var idempotencyKey: String?

    public init(parallel: Bool = true, priority: String = "normal", idempotencyKey: String? = nil) throws {
        guard ["high", "normal", "low"].contains(priority) else {
            throw DomainError(.invalid, "processing_options.priority must be high, normal or low", field: "processing_options.priority")
        }
        // An empty key is no key; any other is opaque, up to 255 characters.
        let key = idempotencyKey?.trimmingCharacters(in: .whitespaces).nilIfEmpty
        if let key, key.count > 255 {
            throw DomainError(.invalid, "Idempotency-Key is at most 255 characters", field: "Idempotency-Key")
        }
        self.parallel = parallel
        self.priority = priority
        self.idempotencyKey = key
    }

    /// Queue priority: lower runs first.
    public var queuePriority: Int { priority == "high" ? 1 : priority == "low" ? 3 : 2 }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// What a submission created.
public struct Submission: Sendable, Equatable {
    public struct Item: Sendable, Equatable {
        public var videoID: String
        public var estimatedCost: Money
    }

    public var batchID: String?
    public var videos: [Item]
    /// True when an earlier submission with the same idempotency key was returned.
    public var replayed: Bool
    public var createdAt: Date
}

/// Submits videos: checks the plan's allowance, the channels and each budget against the
/// estimate, then inserts the videos, their stage rows and their first jobs in **one
/// transaction** — after it commits nothing can be lost, before it nothing is half-written.
public struct VideoSubmission: Sendable {
    public static let maximumBatch = 1000

    public let client: PostgresClient
    public let plan: PipelinePlan
    public let jobs: JobStore
    /// How long an account whose renewal failed may still submit (`PaymentSettings.grace`).
    public let paymentGrace: Duration
    /// The learnt cost estimate, when a model is served.
    public let estimator: (any CostEstimating)?
    public let logger: Logger

    public init(client: PostgresClient, plan: PipelinePlan, paymentGrace: Duration = PaymentSettings().grace,
                estimator: (any CostEstimating)? = nil, logger: Logger) {
        self.client = client
        self.plan = plan
        self.paymentGrace = paymentGrace
        self.estimator = estimator
        self.jobs = JobStore(client: client, logger: logger)
        self.logger = logger
    }

    /// Submits one video.
    public func submit(userID: String, _ request: VideoRequest) async throws -> Submission {
        try await submit(userID: userID, [request], batch: nil)
    }

    /// Submits videos, as a batch when `batch` is given.
    /// - Throws: `invalid` (bad input, unknown channel), `limitReached` (monthly allowance),
    ///   `costLimitExceeded` (a budget below its estimate), `conflict` (an idempotency key
    ///   reused with a different request).
    public func submit(userID: String, _ requests: [VideoRequest], batch: BatchOptions?) async throws -> Submission {
        try await submit(userID: userID, requests, batch: batch, kind: .video, inputText: nil)
    }

    /// Submits a processing task: one stage (`kind`) for one asset, e.g. a voice-over of
    /// `inputText`. It is followed like a video (status, artifacts) and costs like one.
    public func submitTask(userID: String, _ request: VideoRequest, kind: VideoKind, inputText: String? = nil) async throws -> Submission {
        try await submit(userID: userID, [request], batch: nil, kind: kind, inputText: inputText)
    }

    private func submit(userID: String, _ requests: [VideoRequest], batch: BatchOptions?, kind: VideoKind,
                        inputText: String?) async throws -> Submission {
        guard !requests.isEmpty else { throw DomainError(.invalid, "videos must not be empty", field: "videos") }
        guard requests.count <= Self.maximumBatch else {
            throw DomainError(.invalid, "a batch has at most \(Self.maximumBatch) videos", field: "videos")
        }
        let estimates = requests.map { plan.estimate($0, stages: kind.stages) }
        // What the user sees and their budgets are checked with: the model's expectation when
        // it answers (a failing model never stops a submission), else the price table's.
        var expected: (version: Int, costs: [Money])?
        if kind == .video, let estimator {
            do { expected = try await estimator.expectedCosts(requests, baselines: estimates) } catch {
                logger.warning("the cost model failed; the price table's estimate is used", metadata: ["error": "\(error)"])
            }
        }
        if expected?.costs.count != estimates.count { expected = nil }
        let shown = expected?.costs ?? estimates
        // Sorted keys: the same request must hash the same every time (key order is not stable otherwise).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let requestHash = try Data(SHA256.hash(data: encoder.encode(requests) + Data("\(batch?.parallel ?? true)\(batch?.priority ?? "")".utf8)))
        return try await client.withTransaction(logger: logger) { connection in
            // A replay returns the original batch whatever has happened since (the allowance
            // it used, say): the key is looked up before any limit is checked.
            var batchID: String?
            if let batch {
                let (id, replay) = try await createBatch(userID: userID, options: batch, requestHash: requestHash,
                                                         total: requests.count, costLimit: requests[0].costLimit, on: connection)
                if let replay { return replay }
                batchID = id
            }
            // Tasks (one asset) are paid for by their budget; only videos count against the plan.
            try await checkAllowance(userID: userID, adding: kind == .video ? requests.count : 0, on: connection)
            try await checkChannels(userID: userID, requests, on: connection)
            try checkBudgets(requests, estimates: estimates, inBatch: batch != nil)
            try await checkUserBudgets(userID: userID, estimate: shown.reduce(Money.zero, +), on: connection)
            let ids = requests.map { _ in PrefixedID.make("vid_") }
            // Tasks are interactive (a client may be waiting for the result): they go first.
            let priority = kind == .video ? batch?.queuePriority ?? 2 : 0
            let createdAt = try await insertVideos(ids: ids, userID: userID, requests, estimates: estimates, batchID: batchID,
                                                   priority: priority, kind: kind, inputText: inputText, on: connection)
            let first = (batch?.parallel ?? true) ? ids : Array(ids.prefix(1))
            let firstStage = kind.stages[0]
            let jobs = try first.map { try StageJobArgs(videoID: $0, userID: userID, stage: firstStage, generation: 1).job(priority: priority) }
            let inserted = try await self.jobs.insert(jobs, on: connection)
            if let expected {
                // Kept to compare with what the videos really cost (the model's live error).
                try await connection.query("""
                    INSERT INTO ml_predictions (model_id, version, subject, predicted, baseline)
                    SELECT 'cost-estimator', \(Int32(clamping: expected.version)), id, predicted, baseline
                      FROM unnest(\(ids)::text[], \(shown.map(\.dollars))::float8[], \(estimates.map(\.dollars))::float8[]) AS p(id, predicted, baseline)
                    """, logger: logger)
            }
            try await connection.query("""
                UPDATE video_stages s SET job_id = j.job_id
                  FROM unnest(\(first)::text[], \(inserted.map(\.id))::int8[]) AS j(video_id, job_id)
                 WHERE s.video_id = j.video_id AND s.stage = \(firstStage.rawValue)
                """, logger: logger)
            return Submission(batchID: batchID, videos: zip(ids, shown).map { .init(videoID: $0, estimatedCost: $1) },
                              replayed: false, createdAt: createdAt)
        }
    }

    /// Refuses a submission whose estimate does not fit what is left of the user's daily or
    /// monthly budget (spent and held now); the reservations still enforce both per call.
    private func checkUserBudgets(userID: String, estimate: Money, on connection: PostgresConnection) async throws {
        let left = try await CostBudgets(client: client, logger: logger).remaining(userID: userID, on: connection)
        for (name, remaining) in [("daily", left.daily), ("monthly", left.monthly)] {
            guard let remaining, estimate > remaining else { continue }
            throw DomainError(.budgetExceeded, "The estimate of \(estimate) does not fit the \(max(remaining, .zero)) left of your \(name) budget; "
                              + "raise it with PUT /costs/limits or wait for the next \(name == "daily" ? "day" : "month")",
                              reason: "\(name)_budget")
        }
    }

    /// Locks the user row (one submission of a user at a time), then checks the month's
    /// allowance in the next statement, which sees every submission committed before the lock.
    private func checkAllowance(userID: String, adding count: Int, on connection: PostgresConnection) async throws {
        try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
        let rows = try await connection.query("""
            SELECT t.videos_per_month,
                   (SELECT count(*) FROM videos v WHERE v.user_id = u.id AND v.kind = 'video' AND v.created_at >= date_trunc('month', now())),
                   (SELECT b.past_due_since FROM billing_accounts b
                     WHERE b.user_id = u.id AND b.status = 'past_due'
                       AND b.past_due_since <= now() - make_interval(secs => \(Double(paymentGrace.components.seconds))))
              FROM users u JOIN subscription_tiers t ON t.name = u.subscription_tier
             WHERE u.id = \(userID)
            """, logger: logger)
        for try await (allowed, used, pastDueSince) in rows.decode((Int32, Int64, Date?).self) {
            if let pastDueSince {
                throw DomainError(.paymentRequired, "Your subscription's payment has been due since \(ISO8601DateFormatter().string(from: pastDueSince)); "
                                  + "update your card (POST /payment/methods) to submit videos again")
            }
            guard used + Int64(count) <= Int64(allowed) else {
                let left = max(0, Int64(allowed) - used)
                throw DomainError(.limitReached, "Your plan allows \(allowed) videos a month and \(left) remain; this submission has \(count)",
                                  limit: Int(allowed))
            }
            return
        }
        throw DomainError(.notFound, "The account no longer exists")
    }

    /// Inserts the batch, or returns the earlier submission under the same idempotency key.
    private func createBatch(userID: String, options: BatchOptions, requestHash: Data, total: Int, costLimit: Money,
                             on connection: PostgresConnection) async throws -> (String, Submission?) {
        let id = PrefixedID.make("bat_")
        let hash = ByteBuffer(bytes: requestHash)
        let rows = try await connection.query("""
            INSERT INTO batches (id, user_id, idempotency_key, request_hash, priority, parallel, cost_limit_per_video, total)
            VALUES (\(id), \(userID), \(options.idempotencyKey), \(hash), \(options.priority), \(options.parallel), \(costLimit.micros), \(Int32(total)))
            ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
            RETURNING id
            """, logger: logger)
        for try await _ in rows { return (id, nil) }
        let existing = try await connection.query("""
            SELECT b.id, b.request_hash, b.created_at, coalesce(array_agg(v.id ORDER BY v.batch_position) FILTER (WHERE v.id IS NOT NULL), '{}'),
                   coalesce(array_agg(coalesce((SELECT round(p.predicted * 1e6)::int8 FROM ml_predictions p
                                                 WHERE p.subject = v.id AND p.model_id = 'cost-estimator' ORDER BY p.id LIMIT 1),
                                                v.estimated_cost) ORDER BY v.batch_position) FILTER (WHERE v.id IS NOT NULL), '{}')
              FROM batches b LEFT JOIN videos v ON v.batch_id = b.id
             WHERE b.user_id = \(userID) AND b.idempotency_key = \(options.idempotencyKey)
             GROUP BY b.id
            """, logger: logger)
        for try await (batchID, storedHash, createdAt, videoIDs, costs) in existing.decode((String, ByteBuffer, Date, [String], [Int64]).self) {
            guard storedHash == hash else {
                throw DomainError(.conflict, "This Idempotency-Key was used for a different request", field: "Idempotency-Key")
            }
            let items = zip(videoIDs, costs).map { Submission.Item(videoID: $0, estimatedCost: Money(micros: $1)) }
            return (batchID, Submission(batchID: batchID, videos: items, replayed: true, createdAt: createdAt))
        }
        throw DomainError(.conflict, "A submission with this Idempotency-Key is being processed; retry", field: "Idempotency-Key")
    }

    /// Every budget must cover its video's estimate with the configured providers.
    private func checkBudgets(_ requests: [VideoRequest], estimates: [Money], inBatch: Bool) throws {
        for (index, (request, estimate)) in zip(requests, estimates).enumerated() where estimate > request.costLimit {
            let prefix = inBatch ? "videos[\(index)]." : ""
            throw DomainError(.costLimitExceeded,
                              "\(prefix)cost_limit \(request.costLimit) is below the estimated cost \(estimate) of the configured providers",
                              field: prefix + "cost_limit")
        }
    }

    /// Every channel named must be the user's and active.
    private func checkChannels(userID: String, _ requests: [VideoRequest], on connection: PostgresConnection) async throws {
        let wanted = Array(Set(requests.map(\.channelID)))
        let rows = try await connection.query("""
            SELECT id, status FROM channels WHERE user_id = \(userID) AND id = ANY(\(wanted))
            """, logger: logger)
        var found: [String: ChannelStatus] = [:]
        for try await (id, status) in rows.decode((String, String).self) { found[id] = try DatabaseValue.decode(status, column: "channels.status") }
        for (index, request) in requests.enumerated() {
            let field = requests.count == 1 ? "channel_id" : "videos[\(index)].channel_id"
            guard let status = found[request.channelID] else {
                throw DomainError(.notFound, "Channel \(request.channelID) not found", field: field)
            }
            guard status == .active else {
                throw DomainError(.invalidState, "Channel \(request.channelID) is \(status.rawValue); activate it first", field: field)
            }
        }
    }

    private func insertVideos(ids: [String], userID: String, _ requests: [VideoRequest], estimates: [Money], batchID: String?,
                              priority: Int, kind: VideoKind, inputText: String?, on connection: PostgresConnection) async throws -> Date {
        let keywords = try requests.map { String(decoding: try JSONEncoder().encode($0.keywords), as: UTF8.self) }
        let rows = try await connection.query("""
            WITH input AS (
                SELECT * FROM unnest(\(ids)::text[], \(requests.map(\.channelID))::text[], \(requests.map(\.title))::text[],
                                     \(requests.map(\.description))::text[], \(requests.map(\.scriptStyle))::text[],
                                     \(requests.map(\.voiceID))::text[], \(requests.map(\.thumbnailStyle))::text[],
                                     \(requests.map { Int32($0.durationTarget) })::int4[], \(keywords)::text[],
                                     \(requests.map { Int32($0.qualityThreshold) })::int4[], \(requests.map(\.costLimit.micros))::int8[],
                                     \(estimates.map(\.micros))::int8[])
                       WITH ORDINALITY AS t(id, channel_id, title, description, script_style, voice_id, thumbnail_style,
                                            duration_target, keywords, quality_threshold, cost_limit, estimated_cost, position)
            ), v AS (
                INSERT INTO videos (id, user_id, channel_id, batch_id, batch_position, title, description, script_style, voice_id,
                                    thumbnail_style, duration_target, keywords, quality_threshold, priority, cost_limit, estimated_cost,
                                    kind, input_text)
                SELECT id, \(userID), channel_id, \(batchID), CASE WHEN \(batchID)::text IS NULL THEN NULL ELSE position END, title,
                       description, script_style, voice_id, thumbnail_style, duration_target,
                       ARRAY(SELECT jsonb_array_elements_text(keywords::jsonb)), quality_threshold, \(Int16(priority)), cost_limit,
                       estimated_cost, \(kind.rawValue), \(inputText)
                  FROM input ORDER BY position
                RETURNING id, created_at
            ), s AS (
                INSERT INTO video_stages (video_id, stage)
                SELECT v.id, stage FROM v, unnest(\(kind.stages.map(\.rawValue))::text[]) AS stage
            )
            SELECT max(created_at) FROM v
            """, logger: logger)
        for try await createdAt in rows.decode(Date.self) { return createdAt }
        return Date()
    }
}
