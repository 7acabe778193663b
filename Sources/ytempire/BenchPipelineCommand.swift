import ArgumentParser
import Domain
import Foundation
import Logging
import PostgresNIO
import Providers
import Queue
import ServiceLifecycle
import Worker

/// `ytempire bench pipeline`: videos through the whole pipeline with the offline providers
/// (template script, espeak-ng, ffmpeg), on in-process workers: videos per minute and each
/// stage's run time, p50 and p99. Works in a throwaway user that is deleted afterwards.
struct BenchPipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pipeline", abstract: "Benchmark the video pipeline with the offline providers.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Videos to submit (one batch).") var videos = 50
    @Option(help: "Spoken length of each video, seconds.") var duration = 30
    @Option(help: "Worker instances (each with the default stage slots).") var workers = 1

    func validate() throws {
        guard (1...1000).contains(videos), (10...3600).contains(duration), (1...32).contains(workers) else {
            throw ValidationError("--videos must be 1 to 1000, --duration 10 to 3600, --workers 1 to 32")
        }
    }

    func run() async throws {
        var benchLogger = try global.makeLogger("bench")
        if global.logLevel == nil { benchLogger.logLevel = .warning }
        let logger = benchLogger
        let database = try global.database()
        let settings = (videos: videos, duration: duration, workers: workers)
        let artifacts = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: artifacts) }
        let report = try await database.withClient(maximumConnections: 8) { client in
            try await Migrator(client: client, migrations: try Migration.all(), logger: logger).requireCurrent()
            return try await withBenchUser(client: client, name: "Pipeline bench", logger: logger) { userID in
                try await Self.measure(database: database, client: client, userID: userID, settings: settings, artifacts: artifacts, logger: logger)
            }
        }
        print("command:        ytempire bench pipeline --videos \(videos) --duration \(duration) --workers \(workers)")
        print("machine:        \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB")
        print(String(format: "throughput:     %.1f videos/minute (%d of %d completed in %.1f s, offline providers)",
                     Double(report.completed) / report.seconds * 60, report.completed, videos, report.seconds))
        for (stage, p50, p99) in report.stages {
            print("stage \(stage.padding(toLength: 10, withPad: " ", startingAt: 0))" + String(format: "p50 %7.0f ms, p99 %7.0f ms", p50, p99))
        }
        print(String(format: "submit → done:  p50 %.1f s, p99 %.1f s", report.latency.0, report.latency.1))
    }

    struct Report {
        var seconds: Double
        var completed: Int
        var stages: [(String, Double, Double)]
        var latency: (Double, Double)
    }

    static func measure(database: Database, client: PostgresClient, userID: String,
                        settings: (videos: Int, duration: Int, workers: Int), artifacts: URL, logger: Logger) async throws -> Report {
        let channel = try await ChannelRepository(client: client, logger: logger).create(userID: userID, ChannelChanges(name: "Bench"))
        let requests = try (0..<settings.videos).map { index in
            try VideoRequest(channelID: channel.id, title: "Benchmark video \(index)", description: "How the fleet turns requests into videos.",
                             scriptStyle: nil, voiceID: nil, thumbnailStyle: nil, durationTarget: settings.duration,
                             keywords: ["fleet", "postgres"], costLimit: 1, qualityThreshold: 0, defaultCostLimit: 1)
        }
        let providers = StageProviderSet.offline(storage: try FileArtifactStorage(root: artifacts))
        let registry = WorkerJobs(client: client, plan: .offline, providers: providers, youtube: nil, logger: logger).registry()
        let notifier = Notifier(client: client, logger: logger)
        let queues = try WorkerConfiguration.parseQueues(PipelineJobs.defaultQueues)
        let claimClients = (0..<settings.workers).map { _ in database.makeClient(maximumConnections: 4) }
        let workers = claimClients.enumerated().map { index, claimClient in
            Worker(configuration: WorkerConfiguration(id: "bench-pipeline-\(index)-\(UInt32.random(in: 0...UInt32.max))", queues: queues),
                   client: claimClient, registry: registry, notifier: notifier, logger: logger)
        }
        let services: [any Service] = [notifier] + claimClients.map { $0 as any Service } + workers.map { $0 as any Service }
        let start = ContinuousClock.now
        let seconds = try await withRunningServices(services, logger: logger) {
            _ = try await VideoSubmission(client: client, plan: .offline, logger: logger).submit(userID: userID, requests, batch: BatchOptions())
            while true {
                let rows = try await client.query("SELECT count(*) FROM videos WHERE user_id = \(userID) AND status = 'processing'", logger: logger)
                var left: Int64 = 0
                for try await count in rows.decode(Int64.self) { left = count }
                if left == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return (ContinuousClock.now - start).seconds
        }
        var stages: [(String, Double, Double)] = []
        for stage in PipelineStage.allCases {
            let rows = try await client.query("""
                SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at)), 0) * 1000,
                       coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM s.finished_at - s.started_at)), 0) * 1000
                  FROM video_stages s JOIN videos v ON v.id = s.video_id
                 WHERE v.user_id = \(userID) AND s.stage = \(stage.rawValue) AND s.status = 'completed'
                """, logger: logger)
            for try await (p50, p99) in rows.decode((Double, Double).self) { stages.append((stage.rawValue, p50, p99)) }
        }
        let totals = try await client.query("""
            SELECT count(*) FILTER (WHERE status = 'completed'),
                   coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)), 0),
                   coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)), 0)
              FROM videos WHERE user_id = \(userID)
            """, logger: logger)
        var completed = 0
        var latency = (0.0, 0.0)
        for try await (count, p50, p99) in totals.decode((Int64, Double, Double).self) {
            completed = Int(count)
            latency = (p50, p99)
        }
        return Report(seconds: seconds, completed: completed, stages: stages, latency: latency)
    }
}
