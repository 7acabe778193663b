import ArgumentParser
import Domain
import Foundation
import Providers
import Worker

/// `ytempire bench report`: makes one report of a user's history here and now (the worker's
/// code, without the queue) and prints its rows, size and time. `ops/bench/reports` runs it
/// under `/usr/bin/time` for the peak memory, over a seeded year of history.
struct BenchReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Make one report of a user's history and time it.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The user whose history it reads.") var userID: String
    @Option(help: "performance, cost, analytics or summary.") var type: String = "cost"
    @Option(help: "csv, json or pdf.") var format: String = "csv"
    @Option(help: "Days back from today (at most 366).") var days = 365
    @Option(help: "Keep the file made at this path (the README's sample page is made so).") var keep: String?

    func run() async throws {
        guard let type = ReportType(rawValue: type), let format = ReportFormat(rawValue: format), (1...366).contains(days) else {
            throw ValidationError("--type is performance, cost, analytics or summary; --format csv, json or pdf; --days 1 to 366")
        }
        let logger = try global.makeLogger("bench")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-bench-reports-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await global.database().withClient { client in
            let store = ReportStore(client: client, logger: logger)
            let today = try await store.today(userID: userID)
            let start = LocalDate.date(today).map { LocalDate.string($0.addingTimeInterval(-Double(days - 1) * 86_400)) } ?? today
            let (queued, _) = try await store.create(userID: userID, request: ReportRequest(type: type, format: format, from: start, to: today,
                                                                                             channelIDs: []), idempotencyKey: nil)
            let jobs = ReportJobs(client: client, storage: try FileArtifactStorage(root: directory), logger: logger)
            let clock = ContinuousClock()
            let began = clock.now
            guard let report = try await jobs.makeNow(reportID: queued.id, userID: userID) else { throw ValidationError("no such user") }
            let elapsed = began.duration(to: clock.now)
            if let keep, let key = report.storageKey {
                let target = URL(fileURLWithPath: keep)
                try? FileManager.default.removeItem(at: target)
                try await FileArtifactStorage(root: directory).fetch(key: key, to: target)
            }
            _ = try await store.delete(id: report.id, userID: userID)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let name = "\(type.rawValue) \(format.rawValue)".padding(toLength: 16, withPad: " ", startingAt: 0)
            print("report \(name) \(start)..\(today)  rows \(report.rows ?? 0)  bytes \(report.sizeBytes ?? 0)  " + String(format: "%.2f s", seconds))
        }
    }
}
