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
///   comma-separated `provider/model`, preferred first, cheaper fallbacks after (default: offline);
/// - `YTEMPIRE_OPENAI_API_KEY` and `YTEMPIRE_OPENAI_BASE_URL` (default `https://api.openai.com/v1`,
///   any OpenAI-compatible server): enables provider `openai`;
/// - `YTEMPIRE_ELEVENLABS_API_KEY` and `YTEMPIRE_ELEVENLABS_BASE_URL` (default
///   `https://api.elevenlabs.io`): enables provider `elevenlabs`;
/// - `YTEMPIRE_PROVIDER_TIMEOUT`: seconds a paid call may take (default 120);
/// - `YTEMPIRE_S3_BUCKET` (with `YTEMPIRE_S3_ENDPOINT`, default `https://s3.amazonaws.com`,
///   `YTEMPIRE_S3_REGION`, default `us-east-1`, `YTEMPIRE_S3_ACCESS_KEY_ID` and
///   `YTEMPIRE_S3_SECRET_ACCESS_KEY`): artifacts in an S3-compatible store instead of the directory.
struct PipelineSettings {
    var plan: PipelinePlan
    var artifactDirectory: String
    var openAI: ProviderEndpoint?
    var elevenLabs: ProviderEndpoint?
    var providerTimeout: Duration = .seconds(120)
    var s3: S3ArtifactStorage?
    /// How long report files are kept (`YTEMPIRE_REPORT_RETENTION`, default 30 days).
    var reportRetention: Duration = .seconds(30 * 86_400)

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
        var settings = PipelineSettings(plan: plan, artifactDirectory: environment["YTEMPIRE_ARTIFACT_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? ".data/artifacts")
        if let key = environment["YTEMPIRE_OPENAI_API_KEY"], !key.isEmpty {
            settings.openAI = ProviderEndpoint(baseURL: environment["YTEMPIRE_OPENAI_BASE_URL"] ?? "https://api.openai.com/v1", apiKey: key)
        }
        if let key = environment["YTEMPIRE_ELEVENLABS_API_KEY"], !key.isEmpty {
            settings.elevenLabs = ProviderEndpoint(baseURL: environment["YTEMPIRE_ELEVENLABS_BASE_URL"] ?? "https://api.elevenlabs.io", apiKey: key)
        }
        if let bucket = environment["YTEMPIRE_S3_BUCKET"], !bucket.isEmpty {
            guard let key = environment["YTEMPIRE_S3_ACCESS_KEY_ID"], let secret = environment["YTEMPIRE_S3_SECRET_ACCESS_KEY"],
                  !key.isEmpty, !secret.isEmpty else {
                throw ValidationError("YTEMPIRE_S3_BUCKET needs YTEMPIRE_S3_ACCESS_KEY_ID and YTEMPIRE_S3_SECRET_ACCESS_KEY")
            }
            settings.s3 = S3ArtifactStorage(endpoint: environment["YTEMPIRE_S3_ENDPOINT"] ?? "https://s3.amazonaws.com", bucket: bucket,
                                            region: environment["YTEMPIRE_S3_REGION"] ?? "us-east-1", accessKey: key, secretKey: secret)
        }
        if let raw = environment["YTEMPIRE_PROVIDER_TIMEOUT"] {
            guard let seconds = Int(raw), (1...3600).contains(seconds) else {
                throw ValidationError("YTEMPIRE_PROVIDER_TIMEOUT must be a number of seconds from 1 to 3600 (got '\(raw)')")
            }
            settings.providerTimeout = .seconds(seconds)
        }
        if let retention = environment["YTEMPIRE_REPORT_RETENTION"], !retention.isEmpty {
            guard let parsed = DurationArgument(argument: retention.trimmingCharacters(in: .whitespaces)), parsed.duration > .zero else {
                throw ValidationError("YTEMPIRE_REPORT_RETENTION: '\(retention)' is not a duration like 12h or 720h")
            }
            settings.reportRetention = parsed.duration
        }
        return settings
    }

    func storage() throws -> any ArtifactStorage {
        if let s3 { return s3 }
        return try FileArtifactStorage(root: URL(fileURLWithPath: artifactDirectory, isDirectory: true))
    }

    /// The providers a worker calls; every provider the plan names must be among them.
    func providers() throws -> StageProviderSet {
        let set = StageProviderSet.configured(storage: try storage(), openAI: openAI, elevenLabs: elevenLabs, timeout: providerTimeout)
        do { try set.validate(plan) } catch {
            throw ValidationError("\(error) (set YTEMPIRE_OPENAI_API_KEY or YTEMPIRE_ELEVENLABS_API_KEY to enable a paid provider)")
        }
        return set
    }
}
