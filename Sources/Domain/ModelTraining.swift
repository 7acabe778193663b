import Foundation
import Queue

/// Training ML models as queue jobs on the `ml` queue: `ml.train` trains one model,
/// `ml.train.all` (the nightly schedule) trains every one.
public struct TrainModelArgs: Codable, Sendable, Equatable {
    public var modelID: String

    public init(modelID: String) { self.modelID = modelID }

    enum CodingKeys: String, CodingKey { case modelID = "model_id" }

    public static let kind = "ml.train"
    public static let allKind = "ml.train.all"
    public static let queue = "ml"

    /// Every model retrained once a day by the leader's periodic jobs.
    public static let nightly = PeriodicJob(id: "ml-train-nightly", kind: allKind, queue: queue, maxAttempts: 3,
                                            schedule: .every(.seconds(86_400)), catchUp: false)

    /// The job that trains `modelID` now (one waiting per model).
    public static func job(modelID: String) throws -> NewJob {
        try NewJob(kind: kind, encoding: TrainModelArgs(modelID: modelID), queue: queue, maxAttempts: 3, uniqueKey: "ml.train:\(modelID)",
                   uniqueStates: NewJob.unfinishedStates)
    }
}
