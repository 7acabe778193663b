@testable import API
import Domain
import Foundation
import Models
import Providers
import Queue
import TestSupport
import Testing

/// The ML Models routes: the baseline answers until a model beats it, a newly active version
/// reaches the running API without a restart (the registry's NOTIFY), predictions check their
/// inputs, and the live error comes from videos that really finished.
@Suite struct ModelAPITests {
    /// A model service on `db` with its artifacts in a fresh temporary directory (`root`: the
    /// caller removes it).
    static func models(_ db: TestDatabase) throws -> (service: ModelService, storage: FileArtifactStorage, root: URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-model-api-\(UUID().uuidString)")
        let storage = try FileArtifactStorage(root: root)
        let service = ModelService(models: ActiveModels(registry: ModelRegistry(client: db.client, storage: storage, logger: db.logger)),
                                   plan: .offline, client: db.client, logger: db.logger)
        return (service, storage, root)
    }

    @Test func theBaselineAnswersUntilAModelIsActiveThenTheNewVersionArrivesWithoutARestart() async throws {
        try await withDatabase { db in
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-model-api-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            let registry = ModelRegistry(client: db.client, storage: try FileArtifactStorage(root: root), logger: db.logger)
            let active = ActiveModels(registry: registry)
            let service = ModelService(models: active, plan: .offline, client: db.client, logger: db.logger)
            let notifier = Notifier(client: db.client, channels: [ModelRegistry.channel], logger: db.logger)
            let fleet = PipelineFleet(db: db)
            try await withRunningServices([notifier, ActiveModelsReloader(models: active, notifier: notifier, logger: db.logger)], logger: db.logger) {
                try await fleet.run(workers: 1) {
                    try await withAPI(db, models: service) { api in
                        let token = try await signUp(api, db, "models@example.com", tier: "enterprise")
                        // Nothing trained: the baseline answers, and says so.
                        let listed = try await api.call(.get, "/ml-models", token: token)
                        let summary = try listed.decode(Components.Schemas.ModelList.self).models.first
                        #expect(summary?.id == "cost-estimator" && summary?.inUse == .baseline, "\(listed.body)")
                        #expect(summary?.reason?.contains("not trained") == true)
                        let input: [String: Any] = ["title": "How Postgres queues work", "duration_target": 600, "script_style": "review"]
                        var predicted = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": [input]], token: token)
                        #expect(try predicted.status == .ok && predicted.decode(Components.Schemas.PredictionResult.self).source == .baseline, "\(predicted.body)")
                        // Per stage, the price table's answer, summing to the total.
                        func stagesSum(_ prediction: Components.Schemas.PredictionResult.PredictionsPayloadPayload?) -> Bool {
                            guard let stages = prediction?.stages?.additionalProperties, let value = prediction?.value else { return false }
                            return Set(stages.keys) == Set(PipelineStage.allCases.map(\.rawValue)) && abs(stages.values.reduce(0, +) - value) < 1e-9
                        }
                        #expect(try stagesSum(predicted.decode(Components.Schemas.PredictionResult.self).predictions.first), "\(predicted.body)")
                        // Inputs are checked against the model's, naming the field.
                        for (bad, field) in [([["title": ""]], "inputs[0].title"), ([input, ["title": "x", "duration_target": "long"]], "inputs[1].duration_target"),
                                             ([["title": "x", "colour": "red"]], "inputs[0].colour"), ([["title": "x", "duration_target": 5]], "inputs[0].duration_target"),
                                             ([["title": "x", "keywords": [1, 2]]], "inputs[0].keywords"),
                                             // A hostile field name is not echoed back (the envelope never carries a NUL).
                                             ([["title": "x", "bad\u{0}\u{1}": 1]], "inputs[0]")] as [([[String: Any]], String)] {
                            let refused = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": bad], token: token)
                            #expect(try refused.status == .badRequest && (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == field
                                        && !(refused.decode(Components.Schemas.ErrorEnvelope.self).message).contains("\u{0}"), "\(refused.body)")
                        }
                        let tooMany = try await api.call(.post, "/ml-models/cost-estimator/predict",
                                                         json: ["inputs": Array(repeating: input, count: 1001)], token: token)
                        #expect(tooMany.status == .badRequest)
                        #expect(try await api.call(.get, "/ml-models/no-such-model", token: token).status == .notFound)
                        #expect(try await api.call(.post, "/ml-models/no-such-model/predict", json: ["inputs": [input]], token: token).status == .notFound)

                        // Trained on a seeded history, the model beats its baseline and becomes active;
                        // the running API learns of it through the registry's NOTIFY.
                        try await db.seedFinishedVideos(count: 300, seed: 42)
                        let version = try await ModelJobs(client: db.client, storage: try FileArtifactStorage(root: root), logger: db.logger)
                            .train(CostEstimator.id)
                        #expect(version.status == .active)
                        let arrived = try await eventually(timeout: .seconds(15)) {
                            let reply = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": [input]], token: token)
                            let result = try reply.decode(Components.Schemas.PredictionResult.self)
                            return result.source == .model && result.version == 1
                        }
                        #expect(arrived, "the new version reached the API without a restart")
                        predicted = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": [input, input]], token: token)
                        let values = try predicted.decode(Components.Schemas.PredictionResult.self).predictions
                        #expect(values.count == 2 && values.allSatisfy { $0.value.isFinite && $0.baseline.isFinite && stagesSum($0) }, "\(values)")
                        let detail = try await api.call(.get, "/ml-models/cost-estimator", token: token).decode(Components.Schemas.ModelDetail.self)
                        #expect(detail.model.inUse == .model && detail.features.count == CostEstimator.features.count)
                        #expect(detail.inputs.contains { $0.name == "duration_target" } && detail.versions.first?.status == .active)

                        // A submission is estimated by the model, and its real cost, once the video has
                        // run through the pipeline, is what the live error is measured against.
                        let channel = try await api.call(.post, "/channels", json: ["name": "Live"], token: token).decode(Components.Schemas.Channel.self).id
                        let submitted = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Live error",
                                                                                             "duration_target": 20, "cost_limit": 5.0], token: token)
                        #expect(submitted.status.code == 202 || submitted.status.code == 201, "\(submitted.body)")
                        #expect(try await db.scalar("SELECT count(*) FROM ml_predictions WHERE model_id = 'cost-estimator'") == 1)
                        #expect(try await fleet.waitForVideos())
                        let performance = try await api.call(.get, "/ml-models/performance", token: token)
                        let report = try #require(try performance.decode(Components.Schemas.ModelPerformanceReport.self).models.first, "\(performance.body)")
                        #expect(report.inUse == .model && report.live.resolved == 1, "\(report)")
                        let expectedMAE = try await db.client.query("""
                            SELECT abs(p.predicted - v.spent / 1e6) FROM ml_predictions p JOIN videos v ON v.id = p.subject
                            """, logger: db.logger)
                        var mae: Double?
                        for try await value in expectedMAE.decode(Double.self) { mae = value }
                        #expect(report.live.mae == mae)
                        #expect(report.latencyMs.count >= 2)
                        let heldOut = try #require(report.heldOut?.mae)
                        #expect(abs(heldOut - version.metrics.model.mae) < 1e-12, "the held-out error is the registry's")
                    }
                }
            }
        }
    }

    @Test func theETAModelAnswersSubmissionsAndTheStatusFromWhatItPredictedThen() async throws {
        try await withDatabase { db in
            let (service, storage, root) = try Self.models(db)
            defer { try? FileManager.default.removeItem(at: root) }
            try await db.seedPipelineHistory(count: 500, seed: 3)
            let version = try await ModelJobs(client: db.client, storage: storage, logger: db.logger).train(ETAEstimator.id)
            #expect(version.status == .active)
            try await withAPI(db, models: service) { api in
                let token = try await signUp(api, db, "eta@example.com", tier: "enterprise")
                let listed = try await api.call(.get, "/ml-models", token: token).decode(Components.Schemas.ModelList.self).models
                #expect(listed.map(\.id) == ["cost-estimator", "eta-estimator", "views-forecast"])
                let predicted = try await api.call(.post, "/ml-models/eta-estimator/predict",
                                                   json: ["inputs": [["duration_target": 300], ["duration_target": 300, "batch_size": 20]]], token: token)
                let result = try predicted.decode(Components.Schemas.PredictionResult.self)
                #expect(result.source == .model, "\(predicted.body)")
                let values = result.predictions
                #expect(values.count == 2 && values.allSatisfy { ($0.high ?? 0) >= $0.value && $0.low == $0.value })
                let refused = try await api.call(.post, "/ml-models/eta-estimator/predict", json: ["inputs": [["batch_size": 0]]], token: token)
                #expect(try refused.status == .badRequest && (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == "inputs[0].batch_size")

                // A submission's estimated_completion is the model's, kept for its status and the live error.
                let channel = try await api.call(.post, "/channels", json: ["name": "ETA"], token: token).decode(Components.Schemas.Channel.self).id
                let before = Date()
                let submitted = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "When done", "duration_target": 300],
                                                   token: token)
                let answered = Date()
                let accepted = try submitted.decode(Components.Schemas.VideoAccepted.self)
                let videoID = accepted.videoId
                let kept = try await service.storedCompletion(videoID: videoID)
                let seconds = try #require(kept)
                #expect(try await db.scalar("SELECT count(*) FROM ml_predictions WHERE model_id = 'eta-estimator' AND version = 1") == 1)
                let promised = accepted.estimatedCompletion
                // The kept estimate counted from some moment while the request ran (whole seconds on the wire).
                #expect(promised >= before.addingTimeInterval(seconds - 1) && promised <= answered.addingTimeInterval(seconds + 1),
                        "\(promised) vs \(seconds) s from between \(before) and \(answered)")
                let status = try await api.call(.get, "/videos/\(videoID)/status", token: token).decode(Components.Schemas.VideoProgress.self)
                let eta = try #require(status.estimatedCompletion)
                #expect(eta.timeIntervalSince(before) >= seconds - 2, "the status ETA starts from what was predicted")

                // An active version whose artifact is gone: the baseline answers, and /health says why.
                // (Looked at until it answers: /health gives each probe 2 s, which a loaded machine can exceed.)
                #expect(try await eventually {
                    try await api.call(.get, "/health").decode(Components.Schemas.Health.self).services.additionalProperties["ml_pipeline"] == "healthy"
                })
                try FileManager.default.removeItem(at: root)
                await service.models.invalidate(nil)
                let fallback = try await api.call(.post, "/ml-models/eta-estimator/predict", json: ["inputs": [["duration_target": 300]]], token: token)
                #expect(try fallback.status == .ok && fallback.decode(Components.Schemas.PredictionResult.self).source == .baseline, "\(fallback.body)")
                let health = try await api.call(.get, "/health")
                #expect(try health.status == .serviceUnavailable
                        && health.decode(Components.Schemas.Health.self).services.additionalProperties["ml_pipeline"]?.hasPrefix("unhealthy") == true,
                        "\(health.body)")
            }
        }
    }

    @Test func aPublishedVideosAnalyticsCarryItsViewsForecastWhichIsLaterMeasuredAgainstYouTubesCount() async throws {
        try await withDatabase { db in
            let (service, storage, root) = try Self.models(db)
            defer { try? FileManager.default.removeItem(at: root) }
            try await withAPI(db, models: service) { api in
                let token = try await signUp(api, db, "views@example.com", tier: "enterprise")
                let userID = try #require(try await db.text("SELECT id FROM users WHERE email = 'views@example.com'"))
                try await db.seedPublishedVideos(userID: userID, seed: 11)
                let stranger = try await db.seedPublishedVideos(channels: 1, days: 20, seed: 12)
                // The youngest video with two to six days of figures (one a day up to yesterday, Pacific), and one long past day 30.
                let pacificToday = "(now() AT TIME ZONE 'America/Los_Angeles')::date"
                let young = try #require(try await db.text("""
                    SELECT id FROM videos
                     WHERE user_id = \(userID) AND (published_at AT TIME ZONE 'America/Los_Angeles')::date BETWEEN \(unescaped: pacificToday) - 6 AND \(unescaped: pacificToday) - 2
                     ORDER BY published_at DESC, id LIMIT 1
                    """))
                let observed = try await db.scalar("""
                    SELECT (\(unescaped: pacificToday) - (published_at AT TIME ZONE 'America/Los_Angeles')::date)::int8 FROM videos WHERE id = \(young)
                    """)
                let old = try #require(try await db.text("SELECT id FROM videos WHERE user_id = \(userID) ORDER BY published_at LIMIT 1"))
                func forecast(_ videoID: String) async throws -> Components.Schemas.ViewsForecast {
                    let reply = try await api.call(.get, "/videos/\(videoID)/analytics", token: token)
                    return try #require(try reply.decode(Components.Schemas.VideoAnalytics.self).forecast, "\(reply.body)")
                }
                func horizons(_ forecast: Components.Schemas.ViewsForecast) -> [Int: Components.Schemas.ViewsForecast.HorizonsPayloadPayload] {
                    Dictionary(forecast.horizons.map { ($0.day.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
                }
                // Untrained: the channel's median answers for what is ahead; what is past is YouTube's count.
                var early = try await forecast(young)
                #expect(early.source == .baseline && early.observedDays == observed && (2...6).contains(observed), "\(early)")
                // The baseline's forecast is the channel's median at day 7 of its latest 50 videos
                // whose first 7 days are all counted, computed here independently.
                let baselineSeven = try #require(horizons(early)[7])
                let median = try await db.scalar("""
                    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY total))::int8 FROM (
                        SELECT sum(d.views) AS total FROM videos w
                          JOIN video_analytics_daily d ON d.video_id = w.id
                           AND d.day BETWEEN (w.published_at AT TIME ZONE 'America/Los_Angeles')::date
                                         AND (w.published_at AT TIME ZONE 'America/Los_Angeles')::date + 6
                         WHERE w.channel_id = (SELECT channel_id FROM videos WHERE id = \(young)) AND w.id <> \(young)
                           AND (w.published_at AT TIME ZONE 'America/Los_Angeles')::date <= \(unescaped: pacificToday) - 7
                         GROUP BY w.id, w.published_at HAVING count(*) = 7
                         ORDER BY w.published_at DESC LIMIT 50) latest
                    """)
                let soFarBefore = try await db.scalar("SELECT coalesce(sum(views), 0)::int8 FROM video_analytics_daily WHERE video_id = \(young)")
                #expect(!baselineSeven.final && baselineSeven.baseline == Int64(max(median, soFarBefore))
                        && baselineSeven.views == baselineSeven.baseline, "\(baselineSeven) vs median \(median)")
                let past = horizons(try await forecast(old))
                let counted = try await db.scalar("SELECT sum(views)::int8 FROM (SELECT views FROM video_analytics_daily WHERE video_id = \(old) ORDER BY day LIMIT 30) d")
                #expect(past[30]?.final == true && past[30]?.views == Int64(counted) && past[30]?.baseline == nil, "\(past)")

                // Trained, the model forecasts, on the analytics and in the overview's top videos.
                let version = try await ModelJobs(client: db.client, storage: storage, logger: db.logger).train(ViewsForecast.id)
                #expect(version.status == .active, "\(version.metrics)")
                // (No reloader runs here: the first test shows the NOTIFY reaching a running API.)
                await service.models.invalidate(ViewsForecast.id)
                early = try await forecast(young)
                #expect(early.source == .model && early.version == 1, "\(early)")
                let seven = try #require(horizons(early)[7]), thirty = try #require(horizons(early)[30])
                let soFar = try await db.scalar("SELECT coalesce(sum(views), 0)::int8 FROM video_analytics_daily WHERE video_id = \(young)")
                #expect(seven.views >= Int64(soFar) && thirty.views >= seven.views, "\(early)")
                let overview = try await api.call(.get, "/analytics/overview", token: token)
                let top = try overview.decode(Components.Schemas.AnalyticsOverview.self).topVideos
                #expect(!top.isEmpty && top.allSatisfy { $0.forecastViews30d != nil }, "\(overview.body)")

                // Predictions name the user's own published videos, and a horizon of 7 or 30.
                let predicted = try await api.call(.post, "/ml-models/views-forecast/predict",
                                                   json: ["inputs": [["video_id": young, "horizon": 7], ["video_id": young]]], token: token)
                let result = try predicted.decode(Components.Schemas.PredictionResult.self)
                #expect(result.source == .model && result.predictions.count == 2, "\(predicted.body)")
                #expect(result.predictions.first?.value == Double(seven.views))
                for (bad, field) in [(["video_id": stranger.videoIDs[0]], "inputs[0].video_id"), (["video_id": young, "horizon": 8], "inputs[0].horizon"),
                                     (["horizon": 7], "inputs[0].video_id"), (["video_id": young, "days": 7], "inputs[0].days")] as [([String: Any], String)] {
                    let refused = try await api.call(.post, "/ml-models/views-forecast/predict", json: ["inputs": [bad]], token: token)
                    #expect(try refused.status == .badRequest && (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == field, "\(refused.body)")
                }

                // Each forecast still ahead is kept once per version; once the analytics cover the
                // video's seventh day, the live error is the distance to YouTube's count.
                #expect(try await db.scalar("SELECT count(*) FROM ml_predictions WHERE model_id = 'views-forecast' AND subject = \(young + "@7") AND version = 1") == 1)
                try await db.client.query("""
                    INSERT INTO video_analytics_daily (video_id, channel_id, day, views, minutes_watched, average_view_duration, likes, comments, shares,
                                                       subscribers_gained, subscribers_lost)
                    SELECT v.id, v.channel_id, d::date, 100, 0, 0, 0, 0, 0, 0, 0
                      FROM videos v
                     CROSS JOIN LATERAL generate_series(\(unescaped: pacificToday), (v.published_at AT TIME ZONE 'America/Los_Angeles')::date + 6,
                                                        interval '1 day') d
                     WHERE v.id = \(young)
                    ON CONFLICT DO NOTHING
                    """, logger: db.logger)
                let actual = try await db.scalar("""
                    SELECT sum(views)::int8 FROM video_analytics_daily
                     WHERE video_id = \(young) AND day < (SELECT (published_at AT TIME ZONE 'America/Los_Angeles')::date + 7 FROM videos WHERE id = \(young))
                    """)
                let performance = try await api.call(.get, "/ml-models/performance", token: token)
                let report = try #require(try performance.decode(Components.Schemas.ModelPerformanceReport.self).models.first { $0.modelId == "views-forecast" })
                #expect(report.live.windowDays == 45 && report.live.resolved == 1, "\(report)")
                let mae = try #require(report.live.mae)
                #expect(abs(mae - abs(Double(seven.views) - Double(actual))) < 1e-6, "\(mae) vs \(actual)")
            }
        }
    }
}
