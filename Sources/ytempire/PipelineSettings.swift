import ArgumentParser
import Domain
import Foundation
import Providers
import Worker

/// The pipeline's configuration from the environment, read once at start-up:
/// - `YTEMPIRE_ARTIFACT_DIR`: artifact storage directory, shared by every server of a fleet
///   (default `.data/artifacts`);
/// - `YTEMPIRE_PRICE_TABLE`: a JSON price table file (default: the built-in public list prices);
/// - `YTEMPIRE_SCRIPT_PROVIDERS`, `YTEMPIRE_VOICE_PROVIDERS`, `YTEMPIRE_THUMBNAIL_PROVIDERS`:
///   comma-separated `provider/model`, preferred first, cheaper fallbacks after (default: offline).
struct PipelineSettings {
    var plan: PipelinePlan
    var artifactDirectory: String

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PipelineSettings {
        var plan = PipelinePlan.offline
        if let path = environment["YTEMPIRE_PRICE_TABLE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("YTEMPIRE_PRICE_TABLE: cannot read '\(path)'")
            }
            do { plan.prices = try PriceTable.decode(json: data) } catch { throw ValidationError("YTEMPIRE_PRICE_TABLE: \(error)") }
        }
        func choices(_ name: String) throws -> [ProviderChoice]? {
            guard let raw = environment[name], !raw.isEmpty else { return nil }
            do {
                return try raw.split(separator: ",").map { try ProviderChoice(parsing: $0.trimmingCharacters(in: .whitespaces)) }
            } catch { throw ValidationError("\(name): \(error)") }
        }
        if let script = try choices("YTEMPIRE_SCRIPT_PROVIDERS") { plan.script = script }
        if let voice = try choices("YTEMPIRE_VOICE_PROVIDERS") { plan.voice = voice }
        if let thumbnail = try choices("YTEMPIRE_THUMBNAIL_PROVIDERS") { plan.thumbnail = thumbnail }
        return PipelineSettings(plan: plan, artifactDirectory: environment["YTEMPIRE_ARTIFACT_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".data/artifacts")
    }

    func storage() throws -> any ArtifactStorage {
        try FileArtifactStorage(root: URL(fileURLWithPath: artifactDirectory, isDirectory: true))
    }

    /// The providers a worker calls; every provider the plan names must be among them.
    func providers() throws -> StageProviderSet {
        let set = StageProviderSet.offline(storage: try storage())
        do { try set.validate(plan) } catch { throw ValidationError("\(error)") }
        return set
    }
}
