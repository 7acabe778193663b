import ArgumentParser
import Domain
import Foundation
import Providers
import Sandbox

/// YouTube's configuration from the environment, read once at start-up:
/// - `YTEMPIRE_GOOGLE_CLIENT_ID` and `YTEMPIRE_GOOGLE_CLIENT_SECRET`: a Google OAuth client;
///   talks to Google (`YTEMPIRE_YOUTUBE_API_URL`, `YTEMPIRE_GOOGLE_AUTH_URL` and
///   `YTEMPIRE_GOOGLE_TOKEN_URL` override its addresses);
/// - otherwise `YTEMPIRE_YOUTUBE_SANDBOX_URL`: a running `ytempire sandbox youtube`;
/// - otherwise, for `ytempire up` only, a sandbox inside the process on `YTEMPIRE_SANDBOX_PORT`
///   (default 8090), its accounts, uploads and quota kept in `YTEMPIRE_SANDBOX_STATE` (default
///   `.data/youtube-sandbox.json`); other processes then run without YouTube (publishing
///   answers 409);
/// - `YTEMPIRE_OAUTH_REDIRECT_URL`: where Google sends users back (default: this API's
///   `/api/v1/youtube/oauth/callback` on 127.0.0.1);
/// - `YTEMPIRE_YOUTUBE_DAILY_QUOTA` (10000), `YTEMPIRE_YOUTUBE_QUOTA_BUFFER` (100),
///   `YTEMPIRE_YOUTUBE_COSTS` (e.g. `videos.insert=1600,thumbnails.set=50`),
///   `YTEMPIRE_YOUTUBE_CHUNK_SIZE` (bytes per upload chunk, a multiple of 256 KiB; 8 MiB).
struct YouTubeSettings {
    var endpoints: YouTubeEndpoints?
    /// The port of a sandbox this process runs itself.
    var embeddedSandboxPort: Int?
    /// Where that sandbox keeps its state across restarts.
    var embeddedSandboxState: URL?
    var policy = QuotaPolicy()
    var chunkSize = 8 << 20

    /// - Parameters:
    ///   - apiPort: this process's API port, for the default redirect URL.
    ///   - embedded: whether a sandbox may run in this process when nothing else is configured.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment, apiPort: Int = 8000,
                                embedded: Bool) throws -> YouTubeSettings {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func number(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let raw = value(name) else { return nil }
            guard let number = Int(raw), range.contains(number) else {
                throw ValidationError("\(name) must be a number from \(range.lowerBound) to \(range.upperBound) (got '\(raw)')")
            }
            return number
        }
        var settings = YouTubeSettings()
        let redirect = value("YTEMPIRE_OAUTH_REDIRECT_URL") ?? "http://127.0.0.1:\(apiPort)/api/v1/youtube/oauth/callback"
        if let clientID = value("YTEMPIRE_GOOGLE_CLIENT_ID") {
            guard let secret = value("YTEMPIRE_GOOGLE_CLIENT_SECRET") else {
                throw ValidationError("YTEMPIRE_GOOGLE_CLIENT_SECRET is required with YTEMPIRE_GOOGLE_CLIENT_ID")
            }
            settings.endpoints = YouTubeEndpoints(
                apiURL: value("YTEMPIRE_YOUTUBE_API_URL") ?? "https://www.googleapis.com",
                authorizeURL: value("YTEMPIRE_GOOGLE_AUTH_URL") ?? "https://accounts.google.com/o/oauth2/v2/auth",
                tokenURL: value("YTEMPIRE_GOOGLE_TOKEN_URL") ?? "https://oauth2.googleapis.com/token",
                clientID: clientID, clientSecret: secret, redirectURL: redirect)
        } else if let sandbox = value("YTEMPIRE_YOUTUBE_SANDBOX_URL") {
            settings.endpoints = .sandbox(sandbox, redirectURL: redirect)
        } else if embedded {
            let port = try number("YTEMPIRE_SANDBOX_PORT", 1...65535) ?? 8090
            settings.embeddedSandboxPort = port
            settings.embeddedSandboxState = URL(fileURLWithPath: value("YTEMPIRE_SANDBOX_STATE") ?? ".data/youtube-sandbox.json")
            settings.endpoints = .sandbox("http://127.0.0.1:\(port)", redirectURL: redirect)
        }
        if let quota = try number("YTEMPIRE_YOUTUBE_DAILY_QUOTA", 1...100_000_000) { settings.policy.dailyLimit = quota }
        if let buffer = try number("YTEMPIRE_YOUTUBE_QUOTA_BUFFER", 0...100_000_000) { settings.policy.safetyBuffer = buffer }
        if let costs = value("YTEMPIRE_YOUTUBE_COSTS") {
            do { try settings.policy.setCosts(costs) } catch { throw ValidationError("YTEMPIRE_YOUTUBE_COSTS: \(error)") }
        }
        if let chunk = try number("YTEMPIRE_YOUTUBE_CHUNK_SIZE", (256 << 10)...(1 << 30)) {
            guard chunk % (256 << 10) == 0 else { throw ValidationError("YTEMPIRE_YOUTUBE_CHUNK_SIZE must be a multiple of 262144") }
            settings.chunkSize = chunk
        }
        return settings
    }

    /// The client, key and rules, or nil when YouTube is not configured.
    func integration(cipher: TokenCipher) -> YouTubeIntegration? {
        guard let endpoints else { return nil }
        return YouTubeIntegration(gateway: YouTubeClient(endpoints: endpoints, chunkSize: chunkSize), cipher: cipher, policy: policy)
    }
}
