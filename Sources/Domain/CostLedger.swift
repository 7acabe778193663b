import Foundation
import Logging
import Metrics
import PostgresNIO
import Queue

/// The cost ceiling in SQL: reservations before paid calls, ledger rows after them.
///
/// The invariant: for every video, `spent + reserved <= cost_limit` whenever a reservation
/// is taken, reservations are held only by a running attempt, and each stage attempt is
/// written to the ledger at most once (`UNIQUE (job_id, attempt)`). Reservations are true
/// upper bounds of what a provider can bill, so the ledger sum — the video's `spent` — does
/// not pass its `cost_limit`, whatever crashes or retries do. A provider that bills above
/// the reservation anyway is an overrun: recorded as billed (with the reservation beside
/// it), counted in `ytempire_cost_overruns_total`, and, when it passes the limit, the video
/// stops with `cost_limit_exceeded` and `cost.limit_reached`. Never silently.
public struct CostLedger: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Why a reservation was or was not taken.
    public enum Reservation: String, Sendable, Equatable {
        case reserved
        /// The video's own `cost_limit` has no room for it.
        case costLimit = "cost_limit"
        /// The user's daily or monthly budget has no room for it.
        case dailyBudget = "daily_budget"
        case monthlyBudget = "monthly_budget"
        /// The video is no longer processing (cancelled, failed, gone).
        case notProcessing = "not_processing"
        /// The attempt no longer holds its job (its lease ran out and the job was claimed again).
        case leaseLost = "lease_lost"

        /// A user budget, not the video's limit, refused it.
        public var isBudget: Bool { self == .dailyBudget || self == .monthlyBudget }
    }

    /// Holds `quote.amount` for one stage attempt if it fits under every ceiling at once: the
    /// video's `cost_limit` and the user's daily and monthly budgets (`spent + reserved +
    /// amount` at each, in one transaction: `cost_reserve`, migrations 0111 and 0119), and only for
    /// the attempt that holds the job now.
    /// - Returns: `.reserved`, or why not; nothing is held then.
    public func reserve(jobID: Int64, attempt: Int, videoID: String, stage: PipelineStage, quote: CostQuote) async throws -> Reservation {
        let rows = try await client.query("""
            SELECT cost_reserve(\(jobID), \(Int32(attempt)), \(videoID), \(stage.rawValue), \(quote.choice.provider), \(quote.choice.model),
                                \(quote.amount.micros))
            """, logger: logger)
        for try await outcome in rows.decode(String.self) {
            return try DatabaseValue.decode(outcome, column: "cost_reserve()")
        }
        return .notProcessing
    }

    /// Gives a reservation back without a ledger row: for a call known not to have been
    /// billed (the provider refused it).
    public func release(jobID: Int64, attempt: Int) async throws {
        try await client.query("""
            WITH r AS (DELETE FROM cost_reservations WHERE job_id = \(jobID) AND attempt = \(Int32(attempt)) RETURNING video_id, amount)
            UPDATE videos v SET reserved = v.reserved - r.amount, updated_at = now() FROM r WHERE v.id = r.video_id
            """, logger: logger)
    }

    /// What settling one attempt wrote.
    public struct Settlement: Sendable, Equatable {
        /// The amount written to the ledger (zero when the attempt was already settled).
        public var amount: Money
        /// The reservation it released.
        public var reserved: Money
        /// The video's spend and limit after it.
        public var spent: Money
        public var costLimit: Money

        /// The provider billed more than the worst case reserved for the call.
        public var isOverrun: Bool { amount > reserved }
        /// The video's spend is now past its limit (only an overrun can do that).
        public var passedLimit: Bool { spent > costLimit }
    }

    /// Writes what an attempt cost and releases its reservation, in the caller's transaction:
    /// the ledger row, `spent` and `reserved` change together, once per attempt. The ledger
    /// records the truth even when it is above the reservation (an overrun); the caller
    /// stops the video when that passed its limit (see `PipelineStore.completeStage`).
    @discardableResult
    public func settle(jobID: Int64, attempt: Int, videoID: String, userID: String, stage: PipelineStage,
                       charge: CostQuote, on executor: any PostgresExecutor) async throws -> Settlement {
        let rows = try await executor.run("""
            WITH r AS (
                DELETE FROM cost_reservations WHERE job_id = \(jobID) AND attempt = \(Int32(attempt)) RETURNING amount, day
            ), l AS (
                INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis,
                                         reserved, day)
                VALUES (\(jobID), \(Int32(attempt)), \(videoID), \(userID), \(stage.rawValue), \(charge.choice.provider), \(charge.choice.model),
                        \(charge.units), \(charge.unit), \(charge.unitPrice), \(charge.amount.micros), 'actual',
                        coalesce((SELECT sum(amount) FROM r), 0), (SELECT max(day) FROM r))
                ON CONFLICT (job_id, attempt) DO NOTHING
                RETURNING amount
            ), v AS (
                UPDATE videos SET reserved = reserved - coalesce((SELECT sum(amount) FROM r), 0),
                                  spent = spent + coalesce((SELECT sum(amount) FROM l), 0), updated_at = now()
                 WHERE id = \(videoID)
                RETURNING spent, cost_limit
            )
            SELECT coalesce((SELECT sum(amount) FROM l), 0)::int8, coalesce((SELECT sum(amount) FROM r), 0)::int8,
                   coalesce((SELECT spent FROM v), 0)::int8, coalesce((SELECT cost_limit FROM v), 0)::int8
            """, logger: logger)
        for try await (amount, reserved, spent, limit) in rows.decode((Int64, Int64, Int64, Int64).self) {
            let settlement = Settlement(amount: Money(micros: amount), reserved: Money(micros: reserved), spent: Money(micros: spent),
                                        costLimit: Money(micros: limit))
            if settlement.isOverrun {
                Counter(label: "ytempire_cost_overruns_total", dimensions: [("provider", charge.choice.provider)]).increment()
                logger.warning("a provider billed more than the reserved worst case", metadata: [
                    "video.id": "\(videoID)", "job.id": "\(jobID)", "stage": "\(stage.rawValue)", "provider": "\(charge.choice)",
                    "reserved": "\(settlement.reserved)", "charged": "\(settlement.amount)",
                ])
            }
            return settlement
        }
        return Settlement(amount: .zero, reserved: .zero, spent: .zero, costLimit: .zero)
    }

    /// Settles one attempt's reservation as spent (`assumed`): its call went out and the answer
    /// was lost, so it may have been billed.
    public func settleAssumed(jobID: Int64, attempt: Int) async throws {
        try await settleAsAssumed(videoID: nil, attempt: (jobID, attempt))
    }

    /// Settles every reservation no running attempt holds any more (its worker crashed, the
    /// job was rescued, cancelled or timed out): the call may have been billed, so the
    /// reserved amount — the worst case — goes to the ledger as `assumed` and the hold ends.
    /// - Parameter videoID: only this video's reservations, or nil for all.
    /// - Returns: how many reservations were settled.
    @discardableResult
    public func settleAbandoned(videoID: String? = nil) async throws -> Int {
        try await settleAsAssumed(videoID: videoID, attempt: nil)
    }

    /// The statements of both: the reservations of `attempt`, or else those no running
    /// attempt holds (of `videoID`, or all), become `assumed` ledger rows. Their videos are
    /// locked first, in id order — the order every transaction that locks several videos
    /// takes them in (a cancellation, say) — so this chore cannot deadlock with one.
    private func settleAsAssumed(videoID: String?, attempt: (jobID: Int64, attempt: Int)?) async throws -> Int {
        let jobID = attempt?.jobID
        let number = attempt.map { Int32($0.attempt) }
        return try await client.withRetryingTransaction(logger: logger) { connection in
            let picked = try await connection.query("""
                WITH candidates AS (
                    SELECT r.job_id, r.attempt, r.video_id FROM cost_reservations r
                     WHERE CASE WHEN \(jobID)::int8 IS NOT NULL THEN r.job_id = \(jobID) AND r.attempt = \(number)
                                ELSE (\(videoID)::text IS NULL OR r.video_id = \(videoID))
                                     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND j.state = 'running' AND j.attempt = r.attempt)
                           END
                ), locked AS (
                    SELECT id FROM videos WHERE id IN (SELECT video_id FROM candidates) ORDER BY id FOR UPDATE
                )
                SELECT coalesce(array_agg(job_id), '{}'), coalesce(array_agg(attempt), '{}')
                  FROM candidates WHERE video_id IN (SELECT id FROM locked)
                """, logger: logger)
            var keys: (jobs: [Int64], attempts: [Int32]) = ([], [])
            for try await row in picked.decode(([Int64], [Int32]).self) { keys = row }
            guard !keys.jobs.isEmpty else { return 0 }
            // An attempt that is not running now never runs again: these stay abandoned.
            let rows = try await connection.query("""
                WITH gone AS (
                    DELETE FROM cost_reservations r USING unnest(\(keys.jobs)::int8[], \(keys.attempts)::int4[]) AS k(job_id, attempt)
                     WHERE r.job_id = k.job_id AND r.attempt = k.attempt
                    RETURNING r.*
                ), l AS (
                    INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis,
                                             reserved, day)
                    SELECT g.job_id, g.attempt, g.video_id, v.user_id, g.stage, g.provider, g.model, 0, 'reserved', 0, g.amount, 'assumed', g.amount,
                           g.day
                      FROM gone g JOIN videos v ON v.id = g.video_id
                    ON CONFLICT (job_id, attempt) DO NOTHING
                    RETURNING video_id, amount
                ), held AS (
                    SELECT video_id, sum(amount) AS amount FROM gone GROUP BY video_id
                ), written AS (
                    SELECT video_id, sum(amount) AS amount FROM l GROUP BY video_id
                ), v AS (
                    UPDATE videos v SET reserved = v.reserved - held.amount, spent = v.spent + coalesce(written.amount, 0), updated_at = now()
                      FROM held LEFT JOIN written USING (video_id)
                     WHERE v.id = held.video_id
                    RETURNING 1
                )
                SELECT count(*) FROM gone
                """, logger: logger)
            for try await count in rows.decode(Int64.self) { return Int(count) }
            return 0
        }
    }
}
