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
                        let summary = (listed.body["models"] as? [[String: Any]])?.first
                        #expect(summary?["id"] as? String == "cost-estimator" && summary?["in_use"] as? String == "baseline", "\(listed.body)")
                        #expect((summary?["reason"] as? String)?.contains("not trained") == true)
                        let input: [String: Any] = ["title": "How Postgres queues work", "duration_target": 600, "script_style": "review"]
                        var predicted = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": [input]], token: token)
                        #expect(predicted.status == .ok && predicted.body["source"] as? String == "baseline", "\(predicted.body)")
                        // Inputs are checked against the model's, naming the field.
                        for (bad, field) in [([["title": ""]], "inputs[0].title"), ([input, ["title": "x", "duration_target": "long"]], "inputs[1].duration_target"),
                                             ([["title": "x", "colour": "red"]], "inputs[0].colour"), ([["title": "x", "duration_target": 5]], "inputs[0].duration_target"),
                                             ([["title": "x", "keywords": [1, 2]]], "inputs[0].keywords")] as [([[String: Any]], String)] {
                            let refused = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": bad], token: token)
                            #expect(refused.status == .badRequest && (refused.body["details"] as? [String: Any])?["field"] as? String == field,
                                    "\(refused.body)")
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
                            return reply.body["source"] as? String == "model" && reply.body["version"] as? Int == 1
                        }
                        #expect(arrived, "the new version reached the API without a restart")
                        predicted = try await api.call(.post, "/ml-models/cost-estimator/predict", json: ["inputs": [input, input]], token: token)
                        let values = predicted.body["predictions"] as? [[String: Any]] ?? []
                        #expect(values.count == 2 && values.allSatisfy { $0["value"] as? Double != nil && $0["baseline"] as? Double != nil })
                        let detail = try await api.call(.get, "/ml-models/cost-estimator", token: token)
                        #expect((detail.body["model"] as? [String: Any])?["in_use"] as? String == "model")
                        #expect((detail.body["features"] as? [Any])?.count == CostEstimator.features.count)
                        #expect((detail.body["inputs"] as? [[String: Any]])?.contains { $0["name"] as? String == "duration_target" } == true)
                        #expect((detail.body["versions"] as? [[String: Any]])?.first?["status"] as? String == "active")

                        // A submission is estimated by the model, and its real cost, once the video has
                        // run through the pipeline, is what the live error is measured against.
                        let channel = try #require(try await api.call(.post, "/channels", json: ["name": "Live"], token: token).body["id"] as? String)
                        let submitted = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "Live error",
                                                                                             "duration_target": 20, "cost_limit": 5.0], token: token)
                        #expect(submitted.status.code == 202 || submitted.status.code == 201, "\(submitted.body)")
                        #expect(try await db.scalar("SELECT count(*) FROM ml_predictions WHERE model_id = 'cost-estimator'") == 1)
                        #expect(try await fleet.waitForVideos())
                        let performance = try await api.call(.get, "/ml-models/performance", token: token)
                        let report = try #require((performance.body["models"] as? [[String: Any]])?.first, "\(performance.body)")
                        let live = report["live"] as? [String: Any]
                        #expect(report["in_use"] as? String == "model" && live?["resolved"] as? Int == 1, "\(report)")
                        let expectedMAE = try await db.client.query("""
                            SELECT abs(p.predicted - v.spent / 1e6) FROM ml_predictions p JOIN videos v ON v.id = p.subject
                            """, logger: db.logger)
                        var mae: Double?
                        for try await value in expectedMAE.decode(Double.self) { mae = value }
                        #expect(live?["mae"] as? Double == mae)
                        #expect(((report["latency_ms"] as? [String: Any])?["count"] as? Int ?? 0) >= 2)
                        let heldOut = try #require((report["held_out"] as? [String: Any])?["mae"] as? Double)
                        #expect(abs(heldOut - version.metrics.model.mae) < 1e-12, "the held-out error is the registry's")
                    }
                }
            }
        }
    }

    @Test func theETAModelAnswersSubmissionsAndTheStatusFromWhatItPredictedThen() async throws {
        try await withDatabase { db in
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-eta-api-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: root) }
            let storage = try FileArtifactStorage(root: root)
            let service = ModelService(models: ActiveModels(registry: ModelRegistry(client: db.client, storage: storage, logger: db.logger)),
                                       plan: .offline, client: db.client, logger: db.logger)
            try await db.seedPipelineHistory(count: 500, seed: 3)
            let version = try await ModelJobs(client: db.client, storage: storage, logger: db.logger).train(ETAEstimator.id)
            #expect(version.status == .active)
            try await withAPI(db, models: service) { api in
                let token = try await signUp(api, db, "eta@example.com", tier: "enterprise")
                let listed = try await api.call(.get, "/ml-models", token: token).body["models"] as? [[String: Any]] ?? []
                #expect(listed.map { $0["id"] as? String ?? "" } == ["cost-estimator", "eta-estimator"])
                let predicted = try await api.call(.post, "/ml-models/eta-estimator/predict",
                                                   json: ["inputs": [["duration_target": 300], ["duration_target": 300, "batch_size": 20]]], token: token)
                #expect(predicted.body["source"] as? String == "model", "\(predicted.body)")
                let values = predicted.body["predictions"] as? [[String: Any]] ?? []
                #expect(values.count == 2 && values.allSatisfy { ($0["high"] as? Double ?? 0) >= ($0["value"] as? Double ?? 1) && $0["low"] as? Double == $0["value"] as? Double })
                let refused = try await api.call(.post, "/ml-models/eta-estimator/predict", json: ["inputs": [["batch_size": 0]]], token: token)
                #expect(refused.status == .badRequest && (refused.body["details"] as? [String: Any])?["field"] as? String == "inputs[0].batch_size")

                // A submission's estimated_completion is the model's, kept for its status and the live error.
                let channel = try #require(try await api.call(.post, "/channels", json: ["name": "ETA"], token: token).body["id"] as? String)
                let before = Date()
                let submitted = try await api.call(.post, "/videos/generate", json: ["channel_id": channel, "title": "When done", "duration_target": 300],
                                                   token: token)
                let answered = Date()
                let videoID = try #require(submitted.body["video_id"] as? String, "\(submitted.body)")
                let kept = try await service.storedCompletion(videoID: videoID)
                let seconds = try #require(kept)
                #expect(try await db.scalar("SELECT count(*) FROM ml_predictions WHERE model_id = 'eta-estimator' AND version = 1") == 1)
                let promised = try #require(ISO8601DateFormatter().date(from: (submitted.body["estimated_completion"] as? String ?? "")
                                                                        .replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)))
                // The kept estimate counted from some moment while the request ran (whole seconds on the wire).
                #expect(promised >= before.addingTimeInterval(seconds - 1) && promised <= answered.addingTimeInterval(seconds + 1),
                        "\(promised) vs \(seconds) s from between \(before) and \(answered)")
                let status = try await api.call(.get, "/videos/\(videoID)/status", token: token)
                let eta = try #require(ISO8601DateFormatter().date(from: (status.body["estimated_completion"] as? String ?? "")
                                                                   .replacingOccurrences(of: #"\.\d+"#, with: "", options: .regularExpression)))
                #expect(eta.timeIntervalSince(before) >= seconds - 2, "the status ETA starts from what was predicted")

                // An active version whose artifact is gone: the baseline answers, and /health says why.
                #expect((try await api.call(.get, "/health").body["services"] as? [String: Any])?["ml_pipeline"] as? String == "healthy")
                try FileManager.default.removeItem(at: root)
                await service.models.invalidate(nil)
                let fallback = try await api.call(.post, "/ml-models/eta-estimator/predict", json: ["inputs": [["duration_target": 300]]], token: token)
                #expect(fallback.status == .ok && fallback.body["source"] as? String == "baseline", "\(fallback.body)")
                let health = try await api.call(.get, "/health")
                #expect(health.status == .serviceUnavailable
                        && ((health.body["services"] as? [String: Any])?["ml_pipeline"] as? String)?.hasPrefix("unhealthy") == true, "\(health.body)")
            }
        }
    }
}
