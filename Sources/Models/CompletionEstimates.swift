import Domain
import Foundation
import PostgresNIO

extension ModelService {
    /// How long each video of a submission should take until done, in seconds from now: the
    /// active `eta-estimator` (p50, with its p90 as `interval.high`), else its baseline (queue
    /// depth × median stage time); nil while neither knows anything (no stage has finished in
    /// the last day and no model is active).
    /// - Parameter submitted: the submission's own videos, already committed: not ahead of themselves.
    public func completion(durationTargets: [Int], priority: Int, submitted: [String] = []) async throws -> (version: Int?, estimates: [Prediction])? {
        guard !durationTargets.isEmpty else { return nil }
        let snapshot = try await ETAEstimator(client: client, logger: logger).snapshot(excluding: submitted)
        let rows = durationTargets.map { snapshot.features(durationTarget: $0, batchSize: durationTargets.count, priority: priority) }
        let baseline = snapshot.baselineSeconds
        if let (version, booster) = try await models.model(ETAEstimator.id) {
            let started = ContinuousClock.now
            let values = try version.predict(booster, rows)
            await latencies.record(ETAEstimator.id, ContinuousClock.now - started)
            return (version.version, values.map { value in
                let p50 = max(0, value)
                return Prediction(value: p50, baseline: baseline, interval: version.metrics.interval.map { interval in
                    let bounds = interval.interval(around: p50)
                    return (bounds.low, max(p50, bounds.high))
                })
            })
        }
        guard baseline > 0 else { return nil }
        return (nil, durationTargets.map { _ in Prediction(value: baseline, baseline: baseline, interval: nil) })
    }

    /// Keeps a submission's completion estimates (seconds from `submittedAt`) to compare with
    /// when its videos really finish: the live error, and the status ETA.
    public func recordCompletion(videoIDs: [String], version: Int?, estimates: [Prediction]) async throws {
        guard videoIDs.count == estimates.count, !videoIDs.isEmpty else { return }
        try await client.query("""
            INSERT INTO ml_predictions (model_id, version, subject, predicted, baseline)
            SELECT \(ETAEstimator.id), \(version.map { Int32(clamping: $0) }), id, predicted, baseline
              FROM unnest(\(videoIDs)::text[], \(estimates.map(\.value))::float8[], \(estimates.map(\.baseline))::float8[]) AS p(id, predicted, baseline)
            """, logger: logger)
    }

    /// The completion estimate kept for a video at its submission, in seconds from it.
    public func storedCompletion(videoID: String) async throws -> Double? {
        let rows = try await client.query("""
            SELECT predicted FROM ml_predictions WHERE subject = \(videoID) AND model_id = \(ETAEstimator.id) ORDER BY id LIMIT 1
            """, logger: logger)
        for try await seconds in rows.decode(Double.self) { return seconds }
        return nil
    }
}
