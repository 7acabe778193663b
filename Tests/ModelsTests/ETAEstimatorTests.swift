import Domain
import Foundation
@testable import Models
import Providers
import TestSupport
import Testing

/// The ETA model on a simulated fleet's history: the queue each video met is rebuilt from the
/// stage timings, the model beats queue depth × median stage time on the newest videos, its
/// p90 covers about nine in ten of them, and the same history gives the same metrics.
@Suite struct ETAEstimatorTests {
    @Test func aSimulatedFleetsHistoryTrainsAnETAThatBeatsTheQueueFormula() async throws {
        try await withDatabase { db in
            try await db.seedPipelineHistory(count: 500, seed: 3)
            let examples = try await ETAEstimator(client: db.client, logger: db.logger).examples()
            #expect(examples.count == 500)
            // Busy moments are rebuilt: some videos met others in flight, at every stage.
            #expect(examples.contains { $0.features[3] >= 3 }, "in_flight")
            // The busy slots of each stage are rebuilt too: never more than the fleet's two, and all
            // of them at busy moments.
            let running = examples.map { Array($0.features.suffix(PipelineStage.allCases.count)) }
            #expect(running.allSatisfy { $0.allSatisfy { (0...2).contains($0) } } && running.contains { $0.contains(2) }, "running_*")
            #expect(examples.allSatisfy { $0.actual > 0 && $0.features.count == ETAEstimator.features.count })
            let jobs = try ModelJobs.temporary(db)
            let first = try await jobs.train(ETAEstimator.id)
            #expect(first.status == .active, "\(first.reason ?? "")")
            #expect(first.metrics.model.mae < first.metrics.baseline.mae / 2, "\(first.metrics)")
            let interval = try #require(first.metrics.interval)
            #expect(interval.upperOnly == true && interval.calibrationCount == 100)
            let coverage = try #require(first.metrics.coverage)
            #expect(coverage >= 0.75, "p90 coverage \(coverage) on \(first.testRows) held-out videos")
            print("eta-estimator on the simulated fleet: \(first.metrics)")
            let second = try await jobs.train(ETAEstimator.id)
            #expect(second.metrics == first.metrics && second.version == 2)
        }
    }
}
