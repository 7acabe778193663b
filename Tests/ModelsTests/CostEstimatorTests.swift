import Domain
import Foundation
@testable import Models
import Providers
import TestSupport
import Testing

/// The cost estimator trained as the nightly job trains it, on a seeded database of finished
/// videos: the same data gives the same metrics, it is promoted only when it beats the price
/// table's worst case on the most recent videos, and with too little history it is not.
@Suite struct CostEstimatorTests {
    @Test func trainingOnASeededDatabaseReproducesItsMetricsAndBeatsTheWorstCase() async throws {
        try await withDatabase { db in
            try await db.seedFinishedVideos(count: 300, seed: 42)
            let jobs = try ModelJobs.temporary(db)
            let first = try await jobs.train(CostEstimator.id)
            #expect(first.version == 1 && first.status == .active && first.reason == nil)
            #expect(first.trainingRows == 240 && first.testRows == 60 && first.features.map(\.name) == CostEstimator.features.map(\.name))
            #expect(first.metrics.model.mae < first.metrics.baseline.mae / 5, "\(first.metrics)")
            #expect((first.metrics.model.r2 ?? 0) > 0.9, "\(first.metrics)")
            let second = try await jobs.train(CostEstimator.id)
            #expect(second.version == 2 && second.status == .active)
            #expect(second.metrics == first.metrics, "the same data and seed give the same metrics")
            #expect(try await jobs.registry.active(CostEstimator.id)?.version == 2)
            #expect(try await db.scalar("SELECT count(*) FROM ml_models WHERE model_id = 'cost-estimator' AND status = 'retired'") == 1)
            // The stored artifact is the model: loaded, it predicts what the options say.
            let (version, booster) = try #require(try await jobs.registry.loadActive(CostEstimator.id))
            #expect(version.version == 2 && booster.featureCount == CostEstimator.features.count)
            let options = CostEstimator.Options(durationTarget: 600, qualityThreshold: 70, scriptStyle: "review", thumbnailStyle: "modern",
                                                voiceID: "voice_professional_male", keywords: 0, titleLength: 12, worstCase: Money(dollars: 4.8))
            let stages = try version.predictStages(booster, [options])[0]
            let predicted = stages.reduce(0, +)
            #expect(abs(predicted - (600 * 0.002 + 0.4)) < 0.15, "predicted \(predicted)")
            // Each stage's cost is learnt from its own ledger rows: script 0.30 $, voice 0.90 $,
            // the review style's thumbnail 0.40 $, nothing for assembly and review.
            for (stage, expected) in zip(CostEstimator.stages, [0.3, 0.9, 0.4, 0, 0]) {
                #expect(abs(stages[CostEstimator.stages.firstIndex(of: stage) ?? 0] - expected) < 0.08, "\(stage): \(stages)")
            }
        }
    }

    @Test func aModelThatDoesNotBeatItsBaselineStaysACandidateAndSaysWhy() async throws {
        try await withDatabase { db in
            try await db.seedFinishedVideos(count: 200, seed: 5, baselineIsExact: true)
            let version = try await ModelJobs.temporary(db).train(CostEstimator.id)
            #expect(version.status == .candidate && version.metrics.baseline.mae < 1e-9, "the stages' dollars sum to the total up to rounding")
            #expect(version.reason?.contains("does not beat the baseline") == true, "\(version.reason ?? "")")
            #expect(try await ModelJobs.temporary(db).registry.active(CostEstimator.id) == nil)
        }
    }

    @Test func withTooLittleHistoryTheBaselineStays() async throws {
        try await withDatabase { db in
            try await db.seedFinishedVideos(count: 20, seed: 9)
            let version = try await ModelJobs.temporary(db).train(CostEstimator.id)
            #expect(version.status == .candidate && version.artifactKey == nil)
            #expect(version.reason?.contains("too little history") == true)
        }
    }

    @Test func aVersionTrainedOnOtherFeaturesThanTheBuildComputesIsRefusedAndTheBaselineAnswers() async throws {
        try await withDatabase { db in
            try await db.seedFinishedVideos(count: 100, seed: 4)
            let jobs = try ModelJobs.temporary(db)
            #expect(try await jobs.train(CostEstimator.id).status == .active)
            // As an older build recorded it: the same number of features, one of them another.
            try await db.client.query("""
                UPDATE ml_models SET features = jsonb_set(features, '{8,name}', '"worst_case_per_minute"') WHERE model_id = 'cost-estimator'
                """, logger: db.logger)
            let active = ActiveModels(registry: jobs.registry)
            await #expect(throws: XGBoostError.self) { _ = try await active.model(CostEstimator.id) }
            let service = ModelService(models: active, plan: .offline, client: db.client, logger: db.logger)
            let (version, predictions) = try await service.predict(CostEstimator.id, inputs: [["title": .text("Refused")]], userID: "usr_nobody")
            #expect(version == nil && predictions.count == 1 && predictions[0].value == predictions[0].baseline)
        }
    }
}
