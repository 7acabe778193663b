import ArgumentParser
import Dispatcher
import Domain
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Queue
import ServiceLifecycle
import Synchronization

/// `ytempire bench webhooks`: outbox events through the leader's fan-out and signed delivery
/// to a loopback receiver, on in-process dispatchers (each a worker on the `webhooks` queue
/// and an election candidate, as `ytempire dispatcher` runs them): deliveries per second and
/// the time from an event's commit to its delivery being recorded as answered, p50 and p99.
/// Works in a throwaway user that is deleted afterwards.
struct BenchWebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "webhooks", abstract: "Benchmark webhook fan-out and delivery to a loopback receiver.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Outbox events to record.") var events = 2000
    @Option(help: "Endpoints subscribed to every event.") var endpoints = 4
    @Option(help: "Events recorded per second, each in its own transaction (0: all in one statement).") var rate = 200
    @Option(help: "Dispatcher instances.") var dispatchers = 2
    @Option(help: "Deliveries each dispatcher sends at once.") var slots = 16
    @Option(help: "Attempts in flight per endpoint.") var concurrency = 4

    func validate() throws {
        guard (1...100_000).contains(events), (1...50).contains(endpoints), (0...10_000).contains(rate), (1...16).contains(dispatchers),
              (1...256).contains(slots), (1...64).contains(concurrency)
        else {
            throw ValidationError("--events 1 to 100000, --endpoints 1 to 50, --rate 0 to 10000, --dispatchers 1 to 16, --slots 1 to 256, --concurrency 1 to 64")
        }
    }

    struct Report {
        var seconds: Double
        var delivered: Int
        var retried: Int
        var latency: (p50: Double, p99: Double)
    }

    func run() async throws {
        var benchLogger = try global.makeLogger("bench")
        if global.logLevel == nil { benchLogger.logLevel = .warning }
        let logger = benchLogger
        let database = try global.database()
        let report = try await database.withClient(maximumConnections: 8) { client in
            try await Migrator(client: client, migrations: try Migration.all(), logger: logger).requireCurrent()
            return try await withBenchUser(client: client, name: "Webhook bench", logger: logger) { userID in
                try await measure(database: database, client: client, userID: userID, logger: logger)
            }
        }
        print("command:        ytempire bench webhooks --events \(events) --endpoints \(endpoints) --rate \(rate) --dispatchers \(dispatchers) --slots \(slots) --concurrency \(concurrency)")
        print("machine:        \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB")
        print(String(format: "throughput:     %.0f deliveries/s (%d delivered in %.1f s, first event to last answer; %d retried)",
                     Double(report.delivered) / report.seconds, report.delivered, report.seconds, report.retried))
        print(String(format: "event → answer: p50 %.1f ms, p99 %.1f ms (event committed to delivery recorded)", report.latency.p50, report.latency.p99))
    }

    func measure(database: Database, client: PostgresClient, userID: String, logger: Logger) async throws -> Report {
        var policy = WebhookPolicy()
        policy.allowInsecureURLs = true
        policy.concurrencyPerEndpoint = concurrency
        let cipher = try TokenCipher.ephemeral()
        let receiver = LoopbackReceiver(logger: logger)
        let notifier = Notifier(client: client, channels: [NotificationChannel.jobs, NotificationChannel.control] + DispatcherServices.channels,
                                logger: logger)
        var services: [any Service] = [receiver.application, notifier]
        for index in 0..<dispatchers {
            let claimClient = database.makeClient(maximumConnections: 4)
            let worker = WorkerConfiguration(id: "bench-webhooks-\(index)-\(UInt32.random(in: 0...UInt32.max))", queues: [DispatcherServices.senderQueue: slots])
            let settings = DispatcherChores.Settings(emailTransport: LogEmailTransport(logger: logger, includeBodies: false), cipher: cipher,
                                                     webhookPolicy: policy, syncsChannels: false)
            let dispatcher = DispatcherServices(client: client, candidateID: worker.id, electionName: "bench-webhooks", settings: settings,
                                                notifier: notifier, logger: logger)
            var registry = JobRegistry()
            dispatcher.register(into: &registry)
            services += [claimClient, Worker(configuration: worker, client: claimClient, registry: registry, notifier: notifier, logger: logger)]
                + dispatcher.services
        }
        let expected = events * endpoints
        let repository = WebhookRepository(client: client, cipher: cipher, policy: policy, logger: logger)
        try await withRunningServices(services, logger: logger) {
            let base = try await receiver.baseURL()
            for index in 0..<endpoints {
                _ = try await repository.create(userID: userID, url: "\(base)/hook/\(index)", events: ["video.completed"], description: "bench", secret: nil)
            }
            let start = ContinuousClock.now
            if rate == 0 {
                try await client.query("""
                    INSERT INTO domain_events (id, user_id, type, data)
                    SELECT id, \(userID), 'video.completed', jsonb_build_object('video_id', 'vid_bench_' || n)
                      FROM unnest(\((0..<events).map { _ in PrefixedID.make("evt_") })::text[]) WITH ORDINALITY AS e(id, n)
                    """, logger: logger)
            } else {
                for index in 0..<events {
                    try await Task.sleep(until: start + .seconds(Double(index) / Double(rate)))
                    try await DomainEvents.record(type: "video.completed", userID: userID, data: DomainEvents.json(["video_id": "vid_bench_\(index)"]),
                                                  on: client, logger: logger)
                }
            }
            let deadline = ContinuousClock.now + .seconds(600)
            while true {
                let recorded = try await Self.finished(client: client, userID: userID, logger: logger)
                if recorded >= expected { break }
                guard ContinuousClock.now < deadline else {
                    throw ValidationError("only \(recorded) of \(expected) deliveries were recorded within 10 minutes (\(receiver.count) arrived)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let rows = try await client.query("""
            SELECT count(*), count(*) FILTER (WHERE d.attempts > 1),
                   extract(epoch FROM max(d.finished_at) - min(e.created_at))::float8,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - e.created_at)) * 1000,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.finished_at - e.created_at)) * 1000
              FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN domain_events e ON e.id = d.event_id
             WHERE w.user_id = \(userID) AND d.status = 'succeeded'
            """, logger: logger)
        for try await (delivered, retried, seconds, p50, p99) in rows.decode((Int64, Int64, Double, Double, Double).self) {
            return Report(seconds: seconds, delivered: Int(delivered), retried: Int(retried), latency: (p50, p99))
        }
        throw ValidationError("no deliveries were recorded")
    }

    static func finished(client: PostgresClient, userID: String, logger: Logger) async throws -> Int {
        let rows = try await client.query("""
            SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
             WHERE w.user_id = \(userID) AND d.status = 'succeeded'
            """, logger: logger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

/// A webhook receiver on a free loopback port that answers 204 and counts what it got.
private struct LoopbackReceiver: Sendable {
    private final class Arrivals: Sendable {
        let count = Atomic<Int>(0)
    }

    let application: Application<RouterResponder<BasicRequestContext>>
    private let arrivals = Arrivals()
    private let port: AsyncStream<Int>

    init(logger: Logger) {
        let router = Router()
        router.post("/hook/{index}") { [arrivals] request, _ -> HTTPResponse.Status in
            _ = try await request.body.collect(upTo: 1 << 20)
            arrivals.count.add(1, ordering: .relaxed)
            return .noContent
        }
        let (port, continuation) = AsyncStream.makeStream(of: Int.self)
        self.port = port
        application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "bench-receiver"),
                                  onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
    }

    /// Requests received so far.
    var count: Int { arrivals.count.load(ordering: .relaxed) }

    /// The receiver's base URL, once it listens.
    func baseURL() async throws -> String {
        for await port in port { return "http://127.0.0.1:\(port)" }
        throw ValidationError("the receiver did not start")
    }
}
