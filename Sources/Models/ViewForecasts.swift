import Domain
import Foundation
import PostgresNIO

/// A published video's views at each horizon: the forecast while the horizon is ahead, what
/// YouTube counted once the analytics cover it.
public struct VideoViewsForecast: Sendable, Equatable {
    public struct Horizon: Sendable, Equatable {
        /// 7 or 30: views over the first that many days.
        public var day: Int
        public var views: Int64
        /// The channel's median video at that age (the views so far without one); nil once final.
        public var baseline: Int64?
        /// Whether `views` is YouTube's count rather than a forecast.
        public var final: Bool
    }

    public var videoID: String
    /// The active version that forecast; nil while the baseline answers.
    public var version: Int?
    /// Days since publication the analytics cover.
    public var observedDays: Int
    public var horizons: [Horizon]
}

extension ModelService {
    /// The views forecasts of `videoIDs` that are published videos of `userID` (others are left
    /// out), by the active `views-forecast` or its baseline. Each forecast still ahead is kept
    /// once per video, horizon and version, to measure the live error against what YouTube
    /// later counts.
    public func viewsForecasts(userID: String, videoIDs: [String]) async throws -> [String: VideoViewsForecast] {
        guard !videoIDs.isEmpty, videoIDs.count <= 1000 else { return [:] }
        let model = ViewsForecast(client: client, logger: logger)
        let asked = try await model.curves(where: "v.user_id = \(userID) AND v.id = ANY(\(videoIDs))", limit: videoIDs.count)
        let peers = try await peerCandidates(userID: userID, channelIDs: Array(Set(asked.map(\.channelID))))
        var pending: [(video: ViewsForecast.Curve, horizon: Int, row: ViewsForecast.Row)] = []
        var forecasts: [String: VideoViewsForecast] = [:]
        for video in asked {
            forecasts[video.videoID] = VideoViewsForecast(videoID: video.videoID, version: nil, observedDays: video.observedDays, horizons: [])
            for horizon in ViewsForecast.horizons where video.views(through: horizon) == nil {
                let peers = ViewsForecast.peers(in: peers[video.channelID] ?? [], horizon: horizon, byDay: .max - 31)
                pending.append((video, horizon, ViewsForecast.row(video, horizon: horizon, age: video.observedDays, peers: peers)))
            }
        }
        var values = pending.map(\.row.baseline)
        var version: Int?
        if !pending.isEmpty, let loaded = try await loadedForForecast() {
            let started = ContinuousClock.now
            do {
                let predicted = try loaded.version.predict(loaded.booster, pending.map(\.row.features))
                guard predicted.count == pending.count else { throw XGBoostError(message: "\(predicted.count) forecasts for \(pending.count) rows") }
                values = predicted
                version = loaded.version.version
                await latencies.record(ViewsForecast.id, ContinuousClock.now - started)
            } catch {
                logger.error("the views forecast failed; the baseline answers", metadata: ["error": "\(error)"])
            }
        }
        for (index, item) in pending.enumerated() {
            // Never below what YouTube has already counted, nor above what any video has had.
            let soFar = Double(item.video.views.prefix(item.video.observedDays).reduce(0, &+))
            let value = index < values.count && values[index].isFinite ? values[index] : item.row.baseline
            let views = Int64(exactly: min(ViewsForecast.ceiling, max(soFar, value)).rounded()) ?? 0
            forecasts[item.video.videoID]?.version = version
            forecasts[item.video.videoID]?.horizons.append(
                .init(day: item.horizon, views: views, baseline: Int64(exactly: item.row.baseline.rounded()) ?? 0, final: false))
        }
        for video in asked {
            for horizon in ViewsForecast.horizons {
                if let actual = video.views(through: horizon) {
                    forecasts[video.videoID]?.horizons.append(.init(day: horizon, views: actual, baseline: nil, final: true))
                }
            }
            forecasts[video.videoID]?.horizons.sort { $0.day < $1.day }
            // A longer horizon counts the shorter one's days too.
            if var horizons = forecasts[video.videoID]?.horizons {
                for index in horizons.indices.dropFirst() where horizons[index].views < horizons[index - 1].views {
                    horizons[index].views = horizons[index - 1].views
                }
                forecasts[video.videoID]?.horizons = horizons
            }
        }
        try await recordViewsForecasts(pending.indices.compactMap { index in
            forecasts[pending[index].video.videoID]?.horizons.first { $0.day == pending[index].horizon }.map {
                (subject: "\(pending[index].video.videoID)@\(pending[index].horizon)", predicted: Double($0.views), baseline: pending[index].row.baseline)
            }
        }, version: version)
        return forecasts
    }

    /// Per channel of `channelIDs` (the user's), its latest videos old enough to have reached
    /// each horizon by yesterday (Pacific), a margin over the 50 the baseline takes: the videos
    /// a forecast compares with, oldest first.
    private func peerCandidates(userID: String, channelIDs: [String]) async throws -> [String: [ViewsForecast.Curve]] {
        guard !channelIDs.isEmpty else { return [:] }
        // Published before the start of the Pacific day `horizon − 1` days before today: day
        // `horizon` of the video was yesterday or earlier.
        let candidates = ViewsForecast.horizons.map { horizon in
            """
            SELECT w.id FROM videos w
             WHERE w.channel_id = c.id AND w.kind = 'video' AND w.published_at IS NOT NULL
               AND w.published_at < (((now() AT TIME ZONE 'America/Los_Angeles')::date - \(horizon - 1))::timestamp AT TIME ZONE 'America/Los_Angeles')
             ORDER BY w.published_at DESC LIMIT \(ViewsForecast.peerCount + 10)
            """
        }.joined(separator: ") UNION (")
        let curves = try await ViewsForecast(client: client, logger: logger).curves(where: """
            v.id IN (SELECT p.id FROM (SELECT id FROM channels WHERE id = ANY(\(channelIDs)) AND user_id = \(userID)) c
                      CROSS JOIN LATERAL ((\(unescaped: candidates))) p)
            """, limit: channelIDs.count * ViewsForecast.horizons.count * (ViewsForecast.peerCount + 10))
        return Dictionary(grouping: curves, by: \.channelID)
    }

    /// The active views model, or nil (the baseline answers) when there is none or it cannot be loaded.
    private func loadedForForecast() async throws -> (version: ModelVersion, booster: Booster)? {
        do { return try await models.model(ViewsForecast.id) } catch {
            logger.error("the active views model could not be loaded; the baseline answers", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Keeps the first forecast of each video and horizon by each version.
    private func recordViewsForecasts(_ rows: [(subject: String, predicted: Double, baseline: Double)], version: Int?) async throws {
        guard !rows.isEmpty else { return }
        try await client.query("""
            INSERT INTO ml_predictions (model_id, version, subject, predicted, baseline)
            SELECT \(ViewsForecast.id), \(version.map { Int32(clamping: $0) }), subject, predicted, baseline
              FROM unnest(\(rows.map(\.subject))::text[], \(rows.map(\.predicted))::float8[], \(rows.map(\.baseline))::float8[])
                   AS p(subject, predicted, baseline)
            ON CONFLICT (model_id, version, subject) WHERE model_id = 'views-forecast' DO NOTHING
            """, logger: logger)
    }
}
