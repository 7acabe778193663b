import ArgumentParser
import Foundation
import Histogram
import Logging
import PostgresNIO
import Queue
import Domain
import ServiceLifecycle
import Synchronization

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure the system; figures go to docs/benchmarks.md.",
                                                    subcommands: [BenchQueueCommand.self, BenchPipelineCommand.self, BenchWebhooksCommand.self,
                                                                  BenchReportCommand.self, BenchModelsCommand.self])
}

/// Runs `body` with a throwaway user (enterprise plan) that is deleted afterwards, with its
/// outbox events (which have no foreign key), whether `body` succeeds or not.
func withBenchUser<T>(client: PostgresClient, name: String, logger: Logger, _ body: (String) async throws -> T) async throws -> T {
    let userID = PrefixedID.make("usr_")
    try await client.query("""
        INSERT INTO users (id, email, password_hash, full_name, subscription_tier, email_verified_at)
        VALUES (\(userID), \(userID + "@bench.invalid"), '!', \(name), 'enterprise', now())
        """, logger: logger)
    func remove() async throws {
        try await client.query("DELETE FROM domain_events WHERE user_id = \(userID)", logger: logger)
        try await client.query("DELETE FROM users WHERE id = \(userID)", logger: logger)
    }
    do {
        let result = try await body(userID)
        try await remove()
        return result
    } catch {
        _ = try? await remove()
        throw error
    }
}

/// `ytempire bench queue`: bulk insert rate, worked no-op jobs per second (counted when the
/// completion commits) and enqueue-to-start latency on an idle queue.
struct BenchQueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "queue", abstract: "Benchmark the job queue with no-op jobs.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Jobs to insert and work.") var jobs = 200_000
    @Option(help: "Worker instances (each with its own connections).") var workers = 2
    @Option(help: "Slots per worker: the most jobs one claim takes.") var concurrency = 100
    @Option(help: "Jobs per insert statement.") var insertBatch = 10_000
    @Option(help: "Enqueue-to-start samples, one every 20 ms.") var latencySamples = 500
    @Flag(help: "Give each job a pipeline stage job's arguments (its own video_id, a user_id, stage, generation) instead of {}: what an index on args costs shows.")
    var stageArgs = false

    func validate() throws {
        guard jobs > 0, workers > 0, concurrency > 0, insertBatch > 0, latencySamples > 0 else {
            throw ValidationError("--jobs, --workers, --concurrency, --insert-batch and --latency-samples must be positive")
        }
    }

    func run() async throws {
        var benchLogger = try global.makeLogger("bench")
        if global.logLevel == nil { benchLogger.logLevel = .warning }
        let logger = benchLogger
        let database = try global.database()
        let queue = "bench_\(UInt32.random(in: 0...UInt32.max))"
        let settings = (jobs: jobs, workers: workers, concurrency: concurrency, insertBatch: insertBatch, samples: latencySamples)
        let report = try await database.withClient(maximumConnections: 8) { client in
            try await Migrator(client: client, migrations: try Migration.all(), logger: logger).requireCurrent()
            let store = JobStore(client: client, logger: logger)
            let roundTrip = try await Self.measureRoundTrip(client: client, logger: logger)
            let latency = try await Self.measureLatency(database: database, client: client, queue: queue,
                                                        samples: settings.samples, logger: logger)
            let insertRate = try await Self.measureInsert(store: store, queue: queue, jobs: settings.jobs, batch: settings.insertBatch,
                                                          stageArgs: stageArgs)
            let worked = try await Self.measureWork(database: database, client: client, queue: queue, jobs: settings.jobs,
                                                    workers: settings.workers, concurrency: settings.concurrency, logger: logger)
            try await client.query("DELETE FROM jobs WHERE queue = \(queue)", logger: logger)
            try await client.query("DELETE FROM queues WHERE name = \(queue)", logger: logger)
            return (insertRate, worked, latency, roundTrip)
        }
        let command = "ytempire bench queue --jobs \(jobs) --workers \(workers) --concurrency \(concurrency) --insert-batch \(insertBatch) --latency-samples \(latencySamples)"
            + (stageArgs ? " --stage-args" : "")
        print("command:            \(command)")
        print("machine:            \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB")
        print(String(format: "bulk insert:        %.0f jobs/s (%d jobs in statements of %d)", report.0, jobs, insertBatch))
        print(String(format: "worked (no-op):     %.0f jobs/s (%d workers x %d slots, counted at completion commit)", report.1, workers, concurrency))
        print(String(format: "enqueue-to-start:   p50 %.2f ms, p99 %.2f ms (idle queue, %d samples)", report.2.p50, report.2.p99, latencySamples))
        print(String(format: "SELECT 1 round trip: p50 %.2f ms, p99 %.2f ms (for scale)", report.3.p50, report.3.p99))
        let json = String(format: "{\"insert_jobs_per_s\": %.0f, \"worked_jobs_per_s\": %.0f, \"start_p50_ms\": %.2f, \"start_p99_ms\": %.2f, \"jobs\": %d, \"workers\": %d, \"concurrency\": %d}",
                          report.0, report.1, report.2.p50, report.2.p99, jobs, workers, concurrency)
        print(json)
    }

    static func measureInsert(store: JobStore, queue: String, jobs: Int, batch: Int, stageArgs: Bool) async throws -> Double {
        let start = ContinuousClock.now
        var remaining = jobs
        while remaining > 0 {
            let count = min(batch, remaining)
            let batchJobs = stageArgs
                ? (0..<count).map { index in
                    NewJob(kind: "noop", args: #"{"video_id": "vid_\#(remaining - index)", "user_id": "usr_\#((remaining - index) % 1000)", "stage": "voice", "generation": 1}"#,
                           queue: queue)
                }
                : Array(repeating: NewJob(kind: "noop", queue: queue), count: count)
            _ = try await store.insert(batchJobs)
            remaining -= count
        }
        return Double(jobs) / (ContinuousClock.now - start).seconds
    }

    static func measureRoundTrip(client: PostgresClient, logger: Logger) async throws -> Latency {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000)
        for _ in 0..<500 {
            let start = ContinuousClock.now
            try await client.query("SELECT 1", logger: logger)
            _ = histogram.record(UInt64((ContinuousClock.now - start).seconds * 1_000_000))
        }
        return Latency(p50: Double(histogram.valueAtPercentile(50)) / 1000, p99: Double(histogram.valueAtPercentile(99)) / 1000)
    }

    static func measureWork(database: Database, client: PostgresClient, queue: String, jobs: Int, workers: Int,
                            concurrency: Int, logger: Logger) async throws -> Double {
        let done = Atomic<Int>(0)
        let finishedAt = Mutex<ContinuousClock.Instant?>(nil)
        let finished = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        var registry = JobRegistry()
        DiagnosticJobs.register(into: &registry)
        let start = ContinuousClock.now
        try await Self.withWorkers(database: database, client: client, queue: queue, count: workers, slots: concurrency,
                                   registry: registry, logger: logger, onCompleted: { ids in
                                       if done.add(ids.count, ordering: .relaxed).newValue >= jobs {
                                           finishedAt.withLock { $0 = $0 ?? .now }
                                           finished.continuation.yield()
                                       }
                                   }) {
            for await _ in finished.stream { break }
        }
        let end = finishedAt.withLock { $0 } ?? .now
        return Double(jobs) / (end - start).seconds
    }

    struct Latency { var p50: Double; var p99: Double }

    static func measureLatency(database: Database, client: PostgresClient, queue: String, samples: Int, logger: Logger) async throws -> Latency {
        let histogram = Mutex(Histogram<UInt64>(highestTrackableValue: 60_000_000))
        let clock = ContinuousClock()
        let origin = clock.now
        let seen = Atomic<Int>(0)
        var registry = JobRegistry()
        registry.register("bench.latency") { context in
            let startedAt = (clock.now - origin).seconds
            struct Args: Decodable { var t: Double }
            let enqueuedAt = try context.args(Args.self).t
            _ = histogram.withLock { $0.record(UInt64(max(0, (startedAt - enqueuedAt) * 1_000_000))) }
            seen.add(1, ordering: .relaxed)
            return .completed
        }
        let store = JobStore(client: client, logger: logger)
        try await Self.withWorkers(database: database, client: client, queue: queue, count: 1, slots: 10,
                                   registry: registry, logger: logger, onCompleted: { _ in }) {
            try? await Task.sleep(for: .milliseconds(500))
            for _ in 0..<samples {
                let t = (clock.now - origin).seconds
                _ = try? await store.insert(NewJob(kind: "bench.latency", args: "{\"t\": \(t)}", queue: queue))
                try? await Task.sleep(for: .milliseconds(20))
            }
            while seen.load(ordering: .relaxed) < samples { try? await Task.sleep(for: .milliseconds(10)) }
        }
        return histogram.withLock { h in
            Latency(p50: Double(h.valueAtPercentile(50)) / 1000, p99: Double(h.valueAtPercentile(99)) / 1000)
        }
    }

    /// Runs `count` workers on `queue` while `body` runs, then shuts them down.
    static func withWorkers(database: Database, client: PostgresClient, queue: String, count: Int, slots: Int, registry: JobRegistry,
                            logger: Logger, onCompleted: @escaping @Sendable ([Int64]) -> Void,
                            _ body: @Sendable () async throws -> Void) async throws {
        // LISTEN on its own connection (YTEMPIRE_LISTEN_DATABASE_URL: Postgres itself when the
        // URL benchmarked is a transaction pooler).
        let listenClient = database.makeListenClient()
        let notifier = Notifier(client: listenClient, logger: logger)
        let claimClients = (0..<count).map { _ in database.makeClient(maximumConnections: 3) }
        let workers = claimClients.enumerated().map { index, claimClient in
            Worker(configuration: WorkerConfiguration(id: "bench-\(index)-\(UInt32.random(in: 0...UInt32.max))", queues: [queue: slots]),
                   client: claimClient, registry: registry, notifier: notifier, logger: logger, onCompleted: onCompleted)
        }
        let services: [any Service] = [listenClient, notifier] + claimClients.map { $0 as any Service } + workers.map { $0 as any Service }
        try await withRunningServices(services, logger: logger) { try await body() }
    }
}
