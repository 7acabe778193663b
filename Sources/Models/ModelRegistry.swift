import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// One input of a model: its name and how it is computed, as `GET /ml-models/{id}` shows it.
public struct FeatureDefinition: Codable, Sendable, Equatable {
    public var name: String
    public var definition: String

    public init(_ name: String, _ definition: String) {
        self.name = name
        self.definition = definition
    }
}

/// A model's held-out error beside its baseline's on the same test rows, and for ranges the
/// interval and its measured coverage.
public struct ModelMetrics: Codable, Sendable, Equatable {
    public var model: RegressionMetrics
    public var baseline: RegressionMetrics
    public var interval: ConformalInterval?
    /// The share of test rows inside their interval.
    public var coverage: Double?

    public init(model: RegressionMetrics, baseline: RegressionMetrics, interval: ConformalInterval? = nil, coverage: Double? = nil) {
        self.model = model
        self.baseline = baseline
        self.interval = interval
        self.coverage = coverage
    }

    /// Whether the model's mean absolute error is below the baseline's on the same rows.
    public var beatsBaseline: Bool { model.count > 0 && model.mae < baseline.mae }
}

/// A trained version of a model, as the registry keeps it.
public struct ModelVersion: Sendable, Equatable {
    public enum Status: String, Sendable, Codable, CaseIterable { case candidate, active, retired }

    public var modelID: String
    public var version: Int
    public var algorithm: String
    public var parameters: [String: String]
    public var features: [FeatureDefinition]
    public var trainingFrom: Date?
    public var trainingTo: Date?
    public var trainingRows: Int
    public var calibrationRows: Int
    public var testRows: Int
    public var metrics: ModelMetrics
    public var status: Status
    /// Why a version is not active (it did not beat its baseline, too little history).
    public var reason: String?
    public var artifactKey: String?
    public var trainingMilliseconds: Int
    public var trainedAt: Date
    public var activatedAt: Date?
}

/// What a training run produced, to record.
public struct TrainedModel: Sendable {
    public var modelID: String
    public var algorithm = "xgboost-1.7 gbtree"
    public var parameters: [String: String]
    public var features: [FeatureDefinition]
    public var trainingFrom: Date?
    public var trainingTo: Date?
    public var trainingRows: Int
    public var calibrationRows: Int
    public var testRows: Int
    public var metrics: ModelMetrics
    /// XGBoost's JSON; nil when no model could be trained.
    public var artifact: Data?
    public var trainingMilliseconds: Int
    /// Why it cannot be used, whatever its metrics (too little history).
    public var refusal: String?

    public init(modelID: String, parameters: [String: String], features: [FeatureDefinition], trainingFrom: Date?, trainingTo: Date?,
                trainingRows: Int, calibrationRows: Int, testRows: Int, metrics: ModelMetrics, artifact: Data?, trainingMilliseconds: Int,
                refusal: String?) {
        self.modelID = modelID
        self.parameters = parameters
        self.features = features
        self.trainingFrom = trainingFrom
        self.trainingTo = trainingTo
        self.trainingRows = trainingRows
        self.calibrationRows = calibrationRows
        self.testRows = testRows
        self.metrics = metrics
        self.artifact = artifact
        self.trainingMilliseconds = trainingMilliseconds
        self.refusal = refusal
    }
}

/// The model registry in Postgres: every version, at most one active per model, artifacts in
/// the shared storage. Activating a version notifies `ModelRegistry.channel`, on which every
/// instance reloads.
public struct ModelRegistry: Sendable {
    public let client: PostgresClient
    public let storage: any ArtifactStorage
    public let logger: Logger

    /// The channel notified (payload: the model id) when a version becomes active.
    public static let channel = "ytempire_ml_models"

    public init(client: PostgresClient, storage: any ArtifactStorage, logger: Logger) {
        self.client = client
        self.storage = storage
        self.logger = logger
    }

    /// The columns `version(_:)` reads, by these names.
    static let columns = """
        model_id, version, algorithm, parameters::text AS parameters, features::text AS features, training_from, training_to, training_rows,
        calibration_rows, test_rows, metrics::text AS metrics, status, reason, artifact_key, training_ms, trained_at, activated_at
        """

    /// Records a trained model as the next version: active when it beats its baseline and
    /// nothing refused it (the previous active version retires, and every instance is told),
    /// else a candidate with the reason.
    public func record(_ trained: TrainedModel) async throws -> ModelVersion {
        let promote = trained.refusal == nil && trained.artifact != nil && trained.metrics.beatsBaseline
        let reason = trained.refusal ?? (trained.metrics.beatsBaseline ? nil : String(
            format: "held-out MAE %.6g does not beat the baseline's %.6g on the same %d rows", trained.metrics.model.mae,
            trained.metrics.baseline.mae, trained.metrics.model.count))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let parameters = String(decoding: try encoder.encode(trained.parameters), as: UTF8.self)
        let features = String(decoding: try encoder.encode(trained.features), as: UTF8.self)
        let metrics = String(decoding: try encoder.encode(trained.metrics), as: UTF8.self)
        return try await client.withTransaction(logger: logger) { connection in
            try await AdvisoryLock.modelVersions.lock(trained.modelID, on: connection, logger: logger)
            var version = 1
            for try await last in try await connection.query("SELECT max(version) FROM ml_models WHERE model_id = \(trained.modelID)",
                                                             logger: logger).decode(Int32?.self) {
                version = Int(last ?? 0) + 1
            }
            var key: String?
            if let artifact = trained.artifact {
                key = "models/\(trained.modelID)/v\(version).json"
                try await put(artifact, key: key ?? "")
            }
            if promote {
                try await connection.query("UPDATE ml_models SET status = 'retired' WHERE model_id = \(trained.modelID) AND status = 'active'",
                                           logger: logger)
            }
            let status = promote ? "active" : "candidate"
            let rows = try await connection.query("""
                INSERT INTO ml_models (model_id, version, algorithm, parameters, features, training_from, training_to, training_rows,
                                       calibration_rows, test_rows, metrics, status, reason, artifact_key, training_ms, activated_at)
                VALUES (\(trained.modelID), \(Int32(version)), \(trained.algorithm), \(parameters)::jsonb, \(features)::jsonb,
                        \(trained.trainingFrom), \(trained.trainingTo), \(Int32(clamping: trained.trainingRows)),
                        \(Int32(clamping: trained.calibrationRows)), \(Int32(clamping: trained.testRows)), \(metrics)::jsonb, \(status),
                        \(reason), \(key), \(Int32(clamping: trained.trainingMilliseconds)), CASE WHEN \(promote) THEN now() END)
                RETURNING \(unescaped: Self.columns)
                """, logger: logger)
            if promote {
                try await connection.query("SELECT pg_notify(\(Self.channel), \(trained.modelID))", logger: logger)
            }
            for try await row in rows { return try Self.version(row) }
            throw DomainError(.notFound, "the new version was not recorded")
        }
    }

    /// The active version of a model.
    public func active(_ modelID: String) async throws -> ModelVersion? {
        try await first("SELECT \(unescaped: Self.columns) FROM ml_models WHERE model_id = \(modelID) AND status = 'active'")
    }

    /// The newest version of a model, whatever its status.
    public func latest(_ modelID: String) async throws -> ModelVersion? {
        try await first("SELECT \(unescaped: Self.columns) FROM ml_models WHERE model_id = \(modelID) ORDER BY version DESC LIMIT 1")
    }

    /// A model's newest versions, newest first.
    public func versions(_ modelID: String, limit: Int) async throws -> [ModelVersion] {
        var found: [ModelVersion] = []
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns) FROM ml_models WHERE model_id = \(modelID) ORDER BY version DESC LIMIT \(Int32(clamping: limit))
            """, logger: logger)
        for try await row in rows { found.append(try Self.version(row)) }
        return found
    }

    /// A model's active booster, loaded from the storage.
    public func loadActive(_ modelID: String) async throws -> (ModelVersion, Booster)? {
        guard let version = try await active(modelID), let key = version.artifactKey else { return nil }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-model-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try await storage.fetch(key: key, to: file)
        let booster = try Booster(model: try Data(contentsOf: file))
        guard booster.featureCount == version.features.count else {
            throw XGBoostError(message: "\(modelID) v\(version.version) takes \(booster.featureCount) features, its record lists \(version.features.count)")
        }
        return (version, booster)
    }

    private func put(_ data: Data, key: String) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-model-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try data.write(to: file)
        _ = try await storage.put(key: key, file: file, contentType: "application/json")
    }

    private func first(_ query: PostgresQuery) async throws -> ModelVersion? {
        for try await row in try await client.query(query, logger: logger) { return try Self.version(row) }
        return nil
    }

    static func version(_ row: PostgresRow) throws -> ModelVersion {
        let c = NamedRow(row)
        let decoder = JSONDecoder()
        return ModelVersion(
            modelID: try c("model_id"), version: Int(try c("version", as: Int32.self)), algorithm: try c("algorithm"),
            parameters: try decoder.decode([String: String].self, from: Data(try c("parameters", as: String.self).utf8)),
            features: try decoder.decode([FeatureDefinition].self, from: Data(try c("features", as: String.self).utf8)),
            trainingFrom: try c("training_from"), trainingTo: try c("training_to"), trainingRows: Int(try c("training_rows", as: Int32.self)),
            calibrationRows: Int(try c("calibration_rows", as: Int32.self)), testRows: Int(try c("test_rows", as: Int32.self)),
            metrics: try decoder.decode(ModelMetrics.self, from: Data(try c("metrics", as: String.self).utf8)),
            status: try DatabaseValue.decode(try c("status", as: String.self), column: "ml_models.status"),
            reason: try c("reason"), artifactKey: try c("artifact_key"), trainingMilliseconds: Int(try c("training_ms", as: Int32.self)),
            trainedAt: try c("trained_at"), activatedAt: try c("activated_at"))
    }
}
