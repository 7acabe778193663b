package import Foundation
import Domain
import Models
package import OpenAPIRuntime

/// ML Models: what each model predicts and whether it or its baseline answers, predictions,
/// and how the models do live.
extension APIService {
    /// The models, or 404 on an instance configured without them.
    func requireModels() throws -> ModelService {
        guard let models else { throw APIError(.notFound, code: "not_found", message: "Models are not served by this instance") }
        return models
    }

    /// The views forecasts of the user's `videoIDs` for the analytics routes: none on an
    /// instance without models, and none (logged) when forecasting fails, so that the figures
    /// YouTube gave are still served.
    func viewsForecasts(userID: String, videoIDs: [String]) async -> [String: VideoViewsForecast] {
        guard let models, !videoIDs.isEmpty else { return [:] }
        do { return try await models.viewsForecasts(userID: userID, videoIDs: videoIDs) } catch {
            logger.error("views forecast failed; the analytics are served without it", metadata: ["error": "\(error)"])
            return [:]
        }
    }

    func listModels(_ input: Operations.ListModels.Input) async throws -> Operations.ListModels.Output {
        _ = try CurrentUser.require()
        let states = try await requireModels().states()
        return .ok(.init(body: .json(.init(models: states.map(Self.summary)))))
    }

    func getModel(_ input: Operations.GetModel.Input) async throws -> Operations.GetModel.Output {
        _ = try CurrentUser.require()
        guard let state = try await requireModels().state(input.path.modelId) else {
            throw APIError(.notFound, code: "not_found", message: "No model is called \(input.path.modelId)")
        }
        let shown = state.active ?? state.versions.first
        return .ok(.init(body: .json(.init(
            model: Self.summary(state),
            inputs: state.description.inputs.map {
                .init(name: $0.name, _type: .init(rawValue: $0.kind.rawValue) ?? .string, required: $0.required, minimum: $0.minimum,
                      maximum: $0.maximum, description: $0.description)
            },
            features: state.description.features.map { .init(name: $0.name, definition: $0.definition) },
            algorithm: shown?.algorithm, parameters: shown.map { .init(additionalProperties: $0.parameters) },
            training: shown.map {
                .init(from: $0.trainingFrom, to: $0.trainingTo, rows: $0.trainingRows, calibrationRows: $0.calibrationRows, testRows: $0.testRows,
                      milliseconds: $0.trainingMilliseconds)
            },
            versions: state.versions.map {
                .init(version: $0.version, status: .init(rawValue: $0.status.rawValue) ?? .candidate, trainedAt: $0.trainedAt,
                      mae: $0.metrics.model.mae, baselineMae: $0.metrics.baseline.mae, reason: $0.reason)
            }))))
    }

    func predict(_ input: Operations.Predict.Input) async throws -> Operations.Predict.Output {
        let caller = try CurrentUser.require()
        guard case let .json(body) = input.body else { throw APIError.validation("Expected a JSON body") }
        let service = try requireModels()
        guard let description = ModelService.description(input.path.modelId) else {
            throw APIError(.notFound, code: "not_found", message: "No model is called \(input.path.modelId)")
        }
        let inputs = body.inputs.map { $0.additionalProperties.value.mapValues(Self.inputValue) }
        let (version, predictions) = try await service.predict(description.id, inputs: inputs, userID: caller.user.id)
        return .ok(.init(body: .json(.init(
            modelId: description.id, source: version == nil ? .baseline : .model, version: version, unit: description.unit,
            predictions: predictions.map { prediction in
                .init(value: prediction.value, baseline: prediction.baseline, low: prediction.interval?.low, high: prediction.interval?.high,
                      stages: prediction.stages.map { stages in
                          .init(additionalProperties: Dictionary(uniqueKeysWithValues: zip(CostEstimator.stages.map(\.rawValue), stages)))
                      })
            }))))
    }

    func getModelPerformance(_ input: Operations.GetModelPerformance.Input) async throws -> Operations.GetModelPerformance.Output {
        let caller = try CurrentUser.require()
        let service = try requireModels()
        var reports: [Components.Schemas.ModelPerformance] = []
        for state in try await service.states() {
            let live = try await service.liveError(state.description.id, version: state.active?.version, userID: caller.user.id)
            let latency = await service.latencies.percentiles(state.description.id)
            let heldOut = state.active?.metrics.model.mae
            let ratio = heldOut.flatMap { held in live.mae.map { held > 0 ? $0 / held : ($0 > 0 ? .infinity : 1) } }
            reports.append(.init(
                modelId: state.description.id, inUse: state.active == nil ? .baseline : .model, version: state.active?.version,
                heldOut: state.active.map { Self.metrics($0.metrics.model, coverage: $0.metrics.coverage) },
                baselineHeldOut: state.active.map { Self.metrics($0.metrics.baseline, coverage: nil) },
                live: .init(windowDays: live.windowDays, predictions: live.predictions, resolved: live.resolved, mae: live.mae,
                            baselineMae: live.baselineMAE),
                drift: .init(warning: (ratio ?? 0) > ModelService.driftFactor, ratio: ratio.flatMap { $0.isFinite ? $0 : nil },
                             threshold: ModelService.driftFactor),
                latencyMs: .init(count: latency.count, p50: latency.p50, p99: latency.p99)))
        }
        return .ok(.init(body: .json(.init(models: reports))))
    }

    // MARK: Shapes

    static func summary(_ state: ModelState) -> Components.Schemas.ModelSummary {
        let shown = state.active ?? state.versions.first
        return .init(
            id: state.description.id, name: state.description.name, predicts: state.description.predicts, unit: state.description.unit,
            baseline: state.description.baseline, inUse: state.active == nil ? .baseline : .model, version: state.active?.version,
            trainedAt: shown?.trainedAt, metrics: shown.flatMap { $0.metrics.model.count > 0 ? metrics($0.metrics.model, coverage: $0.metrics.coverage) : nil },
            baselineMetrics: shown.map { metrics($0.metrics.baseline, coverage: nil) },
            reason: state.active == nil ? (shown?.reason ?? "not trained yet: the baseline is in use") : nil)
    }

    static func metrics(_ metrics: RegressionMetrics, coverage: Double?) -> Components.Schemas.HeldOutMetrics {
        .init(mae: metrics.mae, mape: metrics.mape, r2: metrics.r2, rows: metrics.count, coverage: coverage)
    }

    /// A JSON value of a prediction input in the models' terms.
    static func inputValue(_ value: (any Sendable)?) -> ModelInputValue {
        switch value {
        case let value as Bool: _ = value; return .other
        case let value as Int: return .number(Double(value))
        case let value as Double: return value.isFinite ? .number(value) : .other
        case let value as String: return .text(value)
        case let values as [(any Sendable)?]:
            let texts = values.compactMap { $0 as? String }
            return texts.count == values.count ? .list(texts) : .other
        default: return .other
        }
    }
}
