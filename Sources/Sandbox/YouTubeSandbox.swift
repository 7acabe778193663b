import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A local YouTube: Google OAuth and the parts of the YouTube Data API v3 the product uses
/// (`channels.list`, `videos.list` with the most-popular chart, `playlistItems.list`,
/// `thumbnails.set`, `videos.insert` with the resumable upload protocol), other creators'
/// public channels, with Google's quota accounting and error bodies, and injectable faults.
/// `ytempire up` runs one so the whole flow works offline; tests point the real client at it.
///
/// Accounts appear on first sign-in: the authorization page asks for an email (or takes
/// `login_hint`) and approves at once.
public final class YouTubeSandbox: Sendable {
    /// How quota is pooled: per Google Cloud project (the OAuth client, as Google does) or
    /// per channel (each connected account its own project: the product's model).
    public enum QuotaScope: String, Sendable, CaseIterable {
        case project, channel
    }

    /// What goes wrong, and how often (fractions of requests, 0...1).
    public struct Faults: Sendable {
        /// Data API and upload requests answered 503 `backendError` (before any effect).
        public var serverErrorRate = 0.0
        /// Upload chunks whose connection drops mid-body: part of the chunk is kept, no answer.
        public var dropRate = 0.0
        /// Requests answered only after `slowDelay`.
        public var slowRate = 0.0
        public var slowDelay: Duration = .seconds(2)

        public init(serverErrorRate: Double = 0, dropRate: Double = 0, slowRate: Double = 0, slowDelay: Duration = .seconds(2)) {
            self.serverErrorRate = serverErrorRate
            self.dropRate = dropRate
            self.slowRate = slowRate
            self.slowDelay = slowDelay
        }
    }

    public struct Configuration: Sendable {
        /// Daily units per bucket.
        public var dailyQuota = 10_000
        /// Units per method (`videos.insert`, `thumbnails.set`, `channels.list`, `videos.list`).
        public var costs: [String: Int] = ["videos.insert": 1600, "thumbnails.set": 50, "channels.list": 1, "videos.list": 1,
                                           "playlistItems.list": 1]
        public var quotaScope = QuotaScope.channel
        /// Uploads one channel may make per Pacific day before `uploadLimitExceeded`.
        public var uploadsPerChannelPerDay = 100
        /// How long an unfinished resumable session lives.
        public var sessionLifetime: TimeInterval = 7 * 86_400
        public var accessTokenLifetime: TimeInterval = 3_600
        public var faults = Faults()
        /// The clock (tests move it to another day).
        public var now: @Sendable () -> Date = { Date() }
        /// Other creators' channels, public to every caller (competitors, the chart).
        public var publicChannels = YouTubeSandbox.defaultPublicChannels
        /// A JSON file that keeps the accounts, tokens, uploads and quota across restarts
        /// (saved every second and at shutdown); none: memory only.
        public var stateFile: URL?

        public init() {}
    }

    public let configuration: Configuration
    let state: PersistedState<SandboxState>

    public init(configuration: Configuration = Configuration(), logger: Logger = Logger(label: "youtube-sandbox")) {
        self.configuration = configuration
        state = PersistedState(SandboxState(startedAt: configuration.now()), file: configuration.stateFile, logger: logger)
    }

    /// An uploaded video as the sandbox holds it.
    public struct StoredVideo: Sendable {
        public var id: String
        public var channelID: String
        public var title: String
        public var bytes: Data
        public var hasThumbnail: Bool
    }

    /// Every video uploaded so far, in upload order.
    public var videos: [StoredVideo] {
        state.withLock { state in
            state.videoOrder.compactMap { state.videos[$0] }.map {
                StoredVideo(id: $0.id, channelID: $0.channelID, title: $0.title, bytes: $0.bytes, hasThumbnail: $0.thumbnail != nil)
            }
        }
    }

    /// Every resumable session opened so far: bytes received of the total, and whether it
    /// completed.
    public var sessions: [(received: Int, total: Int, completed: Bool)] {
        state.withLock { $0.sessions.values.map { ($0.received.count, $0.total, $0.videoID != nil) } }
    }

    /// How many injected faults (503s, dropped chunks) the sandbox has produced.
    public var faultsInjected: Int { state.withLock { $0.faultsInjected } }

    /// How many times the sandbox answered `quotaExceeded`.
    public var quotaExceededAnswers: Int { state.withLock { $0.quotaExceededAnswers } }

    /// Units spent today (Pacific) in `bucket`: a channel id or an OAuth client id, per the scope.
    public func quotaUsed(bucket: String) -> Int {
        let day = PacificDay.of(configuration.now())
        return state.withLock { $0.quota["\(bucket)|\(day)"] ?? 0 }
    }

    /// The channel id of the account signed in as `email`, if it has signed in.
    public func channelID(email: String) -> String? { state.withLock { $0.accounts[email]?.channelID } }

    /// Revokes every refresh token of `email` (the user removed the app's access):
    /// refreshing then answers `invalid_grant`, and access tokens stop working.
    public func revoke(email: String) {
        state.withLock { state in
            for (token, grant) in state.refreshTokens where grant.email == email { state.refreshTokens[token]?.revoked = true }
            state.tokens = state.tokens.filter { $0.value.email != email }
        }
    }

    /// The routes, for embedding in another server or running with `run`.
    public func router() -> Router<SandboxContext> {
        let router = Router(context: SandboxContext.self)
        addOAuthRoutes(to: router)
        addDataAPIRoutes(to: router)
        addPublicRoutes(to: router)
        addAnalyticsRoutes(to: router)
        addUploadRoutes(to: router)
        return router
    }

    /// The sandbox as a Hummingbird application on `host:port` (a `Service`, for a process's
    /// service group); `onReady` gets the bound port.
    public func application(host: String = "127.0.0.1", port: Int, logger: Logger,
                            onReady: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "youtube-sandbox"),
                    onServerRunning: { channel in await onReady(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// What a process runs for the sandbox: the application, and with a state file the
    /// service that keeps it saved.
    public func services(host: String = "127.0.0.1", port: Int, logger: Logger,
                         onReady: @escaping @Sendable (Int) async -> Void = { _ in }) -> [any Service] {
        [application(host: host, port: port, logger: logger, onReady: onReady)]
            + (configuration.stateFile == nil ? [] : [StatePersister(state: state)])
    }

    /// Serves the sandbox on `host:port` until signalled.
    public func run(host: String = "127.0.0.1", port: Int, logger: Logger,
                    onReady: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await ServiceGroup(configuration: .init(services: services(host: host, port: port, logger: logger, onReady: onReady).map { .init(service: $0) },
                                                    gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)).run()
    }

    /// Runs the sandbox on a free loopback port while `body` runs; `body` gets its base URL.
    public func withRunning<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let logger = Logger(label: "youtube-sandbox", factory: { _ in SwiftLogNoOpLogHandler() })
        return try await withLoopbackPort({ onReady in self.services(port: 0, logger: logger, onReady: onReady) }, body)
    }

    // MARK: - Shared request handling

    /// Who the bearer token belongs to, or nil when it is missing, unknown or expired.
    func caller(_ request: Request) -> (account: SandboxState.Account, clientID: String)? {
        guard let token = request.bearerToken else { return nil }
        let now = configuration.now()
        return state.withLock { state in
            guard let grant = state.tokens[token], grant.expiresAt > now, let account = state.accounts[grant.email] else { return nil }
            return (account, grant.clientID)
        }
    }

    /// Applies the injected faults that answer before any effect: a slow answer, a 503.
    func injectedFailure() async throws -> Response? {
        let faults = configuration.faults
        if faults.slowRate > 0, Double.random(in: 0..<1) < faults.slowRate { try await Task.sleep(for: faults.slowDelay) }
        if faults.serverErrorRate > 0, Double.random(in: 0..<1) < faults.serverErrorRate {
            state.withLock { $0.faultsInjected += 1 }
            return GoogleError.api(.serviceUnavailable, reason: "backendError", message: "Backend Error")
        }
        return nil
    }

    /// Charges `method`'s units to the caller's bucket for today, or answers `quotaExceeded`.
    func charge(_ method: String, channelID: String, clientID: String) -> Response? {
        let units = configuration.costs[method] ?? 1
        let bucket = configuration.quotaScope == .project ? clientID : channelID
        let key = "\(bucket)|\(PacificDay.of(configuration.now()))"
        let limit = configuration.dailyQuota
        let refused = state.withLock { state -> Bool in
            let used = state.quota[key] ?? 0
            guard used + units <= limit else {
                state.quotaExceededAnswers += 1
                return true
            }
            state.quota[key] = used + units
            return false
        }
        guard refused else { return nil }
        return GoogleError.api(.forbidden, reason: "quotaExceeded", domain: "youtube.quota",
                               message: "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.")
    }
}
