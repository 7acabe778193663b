import API
import Domain
import ArgumentParser
import Dispatcher
import Foundation
import Queue
import Worker

/// Options of a process that runs workers.
struct WorkerOptions: ParsableArguments {
    @Option(help: "Queues and slots per queue, e.g. default=16,video_script=8 (default: $YTEMPIRE_QUEUES or default=16, every video stage queue, reports=2 and ml=1).")
    var queues: String?

    @Option(help: "Lease of a claimed job without a heartbeat.")
    var lease = DurationArgument(.seconds(30))

    @Option(help: "How often an idle worker polls when no notification arrives.")
    var poll = DurationArgument(.seconds(1))

    @Option(help: "How long SIGTERM waits for running jobs before giving them back.")
    var grace = DurationArgument(.seconds(30))

    @Option(help: "This worker's id (default: host-pid-random).")
    var workerID: String?

    func configuration() throws -> WorkerConfiguration {
        let spec = queues ?? ProcessInfo.processInfo.environment["YTEMPIRE_QUEUES"] ?? PipelineJobs.defaultQueues
        return WorkerConfiguration(id: workerID ?? WorkerConfiguration.defaultID(), queues: try WorkerConfiguration.parseQueues(spec),
                                   lease: lease.duration, pollInterval: poll.duration, shutdownGrace: grace.duration)
    }
}

/// The whole number in environment variable `name`, nil when unset or empty.
/// - Throws: `ValidationError` naming the variable when it is not a number in `range`.
func environmentNumber(_ name: String, _ range: ClosedRange<Int>,
                       in environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
    guard let raw = environment[name], !raw.isEmpty else { return nil }
    guard let value = Int(raw), range.contains(value) else {
        throw ValidationError("\(name) must be a number from \(range.lowerBound) to \(range.upperBound) (got '\(raw)')")
    }
    return value
}

/// Options of a process that serves the API.
struct APIOptions: ParsableArguments {
    @Option(help: "Interface to listen on (default: $YTEMPIRE_API_HOST or 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default: $YTEMPIRE_API_PORT or 8000).")
    var port: Int?

    func configuration() throws -> APIConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let host = host ?? environment["YTEMPIRE_API_HOST"] ?? "127.0.0.1"
        let rawPort = port.map(String.init) ?? environment["YTEMPIRE_API_PORT"] ?? "8000"
        guard let port = Int(rawPort), (1...65535).contains(port) else {
            throw ValidationError("--port (or YTEMPIRE_API_PORT) must be a number from 1 to 65535 (got '\(rawPort)')")
        }
        let cors = try CORSPolicy.parse(environment["YTEMPIRE_CORS_ORIGINS"] ?? "")
        var live = LiveConfiguration()
        if let interval = try environmentNumber("YTEMPIRE_WS_PING_INTERVAL", 1...3600) { live.pingInterval = .seconds(interval) }
        if let limit = try environmentNumber("YTEMPIRE_WS_MAX_SOCKETS_PER_USER", 1...10_000) { live.maxSocketsPerUser = limit }
        var configuration = APIConfiguration(host: host, port: port, cors: cors, live: live)
        configuration.metricsToken = environment["YTEMPIRE_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.docsDirectory = environment["YTEMPIRE_DOCS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            configuration.trustedProxies = try TrustedProxies(parsing: environment["YTEMPIRE_TRUSTED_PROXIES"] ?? "")
        } catch {
            throw ValidationError("YTEMPIRE_TRUSTED_PROXIES: \(error)")
        }
        return configuration
    }

    /// Rate limits from `YTEMPIRE_RATE_LIMITS`, e.g. `authentication=10/60,general=1000/3600`
    /// (requests/seconds per category: authentication, video_generation, analytics, general, admin);
    /// categories not named keep the spec's limits.
    func rateLimitPolicy() throws -> RateLimitPolicy {
        var policy = RateLimitPolicy()
        guard let spec = ProcessInfo.processInfo.environment["YTEMPIRE_RATE_LIMITS"], !spec.isEmpty else { return policy }
        for entry in spec.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            let numbers = parts.count == 2 ? parts[1].split(separator: "/").compactMap { Int($0) } : []
            guard numbers.count == 2, numbers[0] > 0, numbers[1] > 0 else {
                throw ValidationError("YTEMPIRE_RATE_LIMITS: '\(entry)' must look like general=1000/3600")
            }
            let limit = RateLimitPolicy.Limit(requests: numbers[0], window: .seconds(numbers[1]))
            switch parts[0] {
            case "authentication": policy.authentication = limit
            case "video_generation": policy.videoGeneration = limit
            case "analytics": policy.analytics = limit
            case "general": policy.general = limit
            case "admin": policy.admin = limit
            default: throw ValidationError("YTEMPIRE_RATE_LIMITS: unknown category '\(parts[0])'")
            }
        }
        return policy
    }

    /// Token and key settings from the environment: `YTEMPIRE_JWT_PRIVATE_KEY` (a PEM file;
    /// default: a key generated once into `YTEMPIRE_KEY_DIR`, default `.data/keys`),
    /// `YTEMPIRE_ACCESS_TOKEN_TTL` seconds (3600), `YTEMPIRE_REFRESH_TOKEN_TTL` seconds
    /// (2592000), `YTEMPIRE_BCRYPT_COST` (12).
    func authConfiguration() throws -> AuthConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var auth = AuthConfiguration()
        auth.privateKeyFile = environment["YTEMPIRE_JWT_PRIVATE_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        if let directory = environment["YTEMPIRE_KEY_DIR"], !directory.isEmpty { auth.keyDirectory = directory }
        if let ttl = try environmentNumber("YTEMPIRE_ACCESS_TOKEN_TTL", 60...86_400) { auth.accessLifetime = .seconds(ttl) }
        if let ttl = try environmentNumber("YTEMPIRE_REFRESH_TOKEN_TTL", 3600...(365 * 86_400)) { auth.refreshLifetime = .seconds(ttl) }
        if let raw = environment["YTEMPIRE_BCRYPT_COST"] {
            guard let cost = UInt8(raw), (4...31).contains(cost) else {
                throw ValidationError("YTEMPIRE_BCRYPT_COST must be a number from 4 to 31 (got '\(raw)')")
            }
            auth.bcryptCost = cost
        }
        return auth
    }
}

/// Options of a process that takes part in the dispatcher election.
struct DispatcherOptions: ParsableArguments {
    @Option(help: "How long a won leadership lasts without renewal.")
    var leaderTTL = DurationArgument(.seconds(15))

    @Option(help: "How often expired leases are rescued.")
    var rescueInterval = DurationArgument(.seconds(5))

    @Option(help: "How often due scheduled and retryable jobs are promoted.")
    var scheduleInterval = DurationArgument(.seconds(1))

    @Option(help: "How long completed jobs are kept.")
    var completedRetention = DurationArgument(.seconds(86_400))

    @Option(help: "Lease of a webhook delivery this dispatcher claimed, without a heartbeat (a dispatcher that dies gives its deliveries back after it).")
    var senderLease = DurationArgument(.seconds(30))

    func apply(to fleet: inout Fleet) {
        fleet.leaderTTL = leaderTTL.duration
        fleet.senderLease = senderLease.duration
        fleet.maintenance.rescueInterval = rescueInterval.duration
        fleet.maintenance.scheduleInterval = scheduleInterval.duration
        fleet.maintenance.completedRetention = completedRetention.duration
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run a worker: claim and run jobs until SIGTERM.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: WorkerOptions

    func run() async throws {
        var fleet = Fleet(api: nil, worker: try options.configuration(), runsDispatcher: false, pipeline: try PipelineSettings.fromEnvironment(),
                          youtube: try YouTubeSettings.fromEnvironment(embedded: false), webhooks: try WebhookSettings.fromEnvironment(embedded: false))
        fleet.stripe = try StripeSettings.fromEnvironment(embedded: false)
        try await fleet.run(database: try global.database(), logger: try global.makeLogger())
    }
}

struct DispatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dispatcher", abstract: "Run a dispatcher: leader-elected maintenance (rescue, schedule, prune).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: DispatcherOptions

    @Flag(help: "Print the names of the chores the leader runs, one a line, and exit.")
    var listChores = false

    func run() async throws {
        var fleet = Fleet(api: nil, worker: nil, runsDispatcher: true, pipeline: try PipelineSettings.fromEnvironment(),
                          youtube: try YouTubeSettings.fromEnvironment(embedded: false), webhooks: try WebhookSettings.fromEnvironment(embedded: false))
        options.apply(to: &fleet)
        let logger = try global.makeLogger()
        if listChores {
            let client = try global.database().makeClient(maximumConnections: 1)
            let settings = try fleet.choreSettings(syncsChannels: fleet.youtube.integration(cipher: fleet.webhooks.cipher) != nil, logger: logger)
            let dispatcher = DispatcherServices(client: client, candidateID: "list-chores", settings: settings, notifier: nil, logger: logger)
            for chore in dispatcher.maintainer.tasks { print(chore.name) }
            return
        }
        try await fleet.run(database: try global.database(), logger: logger)
    }
}

struct APICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "api", abstract: "Serve the API (port 8000 by default) until SIGTERM.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var options: APIOptions

    func run() async throws {
        let api = try options.configuration()
        var fleet = Fleet(api: api, worker: nil, runsDispatcher: false, pipeline: try PipelineSettings.fromEnvironment(),
                          youtube: try YouTubeSettings.fromEnvironment(apiPort: api.port, embedded: false),
                          webhooks: try WebhookSettings.fromEnvironment(embedded: false))
        fleet.stripe = try StripeSettings.fromEnvironment(apiPort: api.port, embedded: false)
        fleet.auth = try options.authConfiguration()
        fleet.rateLimits = try options.rateLimitPolicy()
        try await fleet.run(database: try global.database(), logger: try global.makeLogger())
    }
}

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "up", abstract: "Run the whole system in one process: API, dispatcher and workers.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var api: APIOptions
    @OptionGroup var worker: WorkerOptions
    @OptionGroup var dispatcher: DispatcherOptions

    func run() async throws {
        let apiConfiguration = try api.configuration()
        var fleet = Fleet(api: apiConfiguration, worker: try worker.configuration(), runsDispatcher: true,
                          pipeline: try PipelineSettings.fromEnvironment(),
                          youtube: try YouTubeSettings.fromEnvironment(apiPort: apiConfiguration.port, embedded: true),
                          webhooks: try WebhookSettings.fromEnvironment(embedded: true))
        fleet.embedded = true
        fleet.stripe = try StripeSettings.fromEnvironment(apiPort: apiConfiguration.port, embedded: true)
        fleet.auth = try api.authConfiguration()
        fleet.rateLimits = try api.rateLimitPolicy()
        dispatcher.apply(to: &fleet)
        let logger = try global.makeLogger()
        let database = try global.database()
        logger.info("ytempire up", metadata: ["database": "\(database.url.redacted)"])
        try await fleet.run(database: database, logger: logger)
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending database migrations (safe to run concurrently).")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger()
        let applied = try await global.database().withClient { client in
            try await Migrator(client: client, migrations: try Migration.all(), logger: logger).migrate()
        }
        print(applied.isEmpty ? "schema is up to date" : "applied migrations: \(applied.map(String.init).joined(separator: ", "))")
    }
}
