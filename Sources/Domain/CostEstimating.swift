import Foundation

/// A learnt estimate of what videos will cost (the `cost-estimator` model), which submissions
/// show as `estimated_cost` and check the user's budgets with; the price table's estimate
/// stays the baseline it is measured against and what each video's own `cost_limit` must
/// cover.
public protocol CostEstimating: Sendable {
    /// The expected cost of each request (in order), given the price table's estimate of each;
    /// nil while the model does not answer (the baseline is in use).
    func expectedCosts(_ requests: [VideoRequest], baselines: [Money]) async throws -> (version: Int, costs: [Money])?
}
