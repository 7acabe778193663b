import Foundation
import Models
import Providers
import TestSupport

extension ModelJobs {
    /// The training jobs on `db`, their artifacts in a fresh temporary directory.
    static func temporary(_ db: TestDatabase) throws -> ModelJobs {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-models-\(UUID().uuidString)")
        return ModelJobs(client: db.client, storage: try FileArtifactStorage(root: root), logger: db.logger)
    }
}
