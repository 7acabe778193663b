import Crypto
import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// `report.generate` on the `reports` queue: streams a report's rows from one snapshot into a
/// local file (CSV or JSON; a PDF lays out the snapshot's digest, see `PDFReport`), stores it in the artifact storage under `reports/<user>/<id>`,
/// and records its size, sha256 and row count with `report.ready`. Progress goes to the user's
/// sockets every tenth of the way; the last failed attempt marks the report failed
/// (`report.failed`).
public struct ReportJobs: Sendable {
    public let store: ReportStore
    public let rows: ReportRows
    public let storage: any ArtifactStorage
    public let retention: Duration

    public init(client: PostgresClient, storage: any ArtifactStorage, retention: Duration = .seconds(30 * 86_400), logger: Logger) {
        self.store = ReportStore(client: client, logger: logger)
        self.rows = ReportRows(client: client, logger: logger)
        self.storage = storage
        self.retention = retention
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(ReportJobArgs.kind, timeout: .seconds(1800)) { context in try await generate(context) }
        registry.register(ReportScheduleArgs.kind, timeout: .seconds(60)) { context in
            guard try await store.createScheduled(try context.args(ReportScheduleArgs.self)) != nil else {
                return .cancel("the schedule's user is gone")
            }
            return .completed
        }
        registry.register(ReportStore.expiryKind, timeout: .seconds(300)) { _ in
            try await expire()
            return .completed
        }
    }

    /// Expires ready reports past retention and deletes their files.
    /// - Returns: how many expired.
    @discardableResult
    public func expire() async throws -> Int {
        try await store.failAbandoned()
        var expired = 0
        while true {
            // Files first: a delete that fails leaves the reports ready, to be tried next time.
            let due = try await store.dueForExpiry()
            if !due.isEmpty {
                try await storage.delete(keys: due.compactMap(\.storageKey))
                try await store.markExpired(ids: due.map(\.id))
            }
            expired += due.count
            if due.count < 500 { return expired }
        }
    }

    func generate(_ context: JobContext) async throws -> JobResult {
        let args = try context.args(ReportJobArgs.self)
        guard let (report, userID) = try await store.start(id: args.reportID) else { return .cancel("the report was deleted") }
        do {
            try await make(report, userID: userID, attempt: context.job.attempt)
            return .completed
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if context.job.attempt >= context.job.maxAttempts {
                try await store.fail(id: report.id, userID: userID, reason: "The report could not be made: \(error)")
            }
            throw error
        }
    }

    /// Makes a queued report here and now, apart from its job (`ytempire bench report`).
    /// - Returns: the report as it is once ready, nil when it is not the user's or not queued.
    public func makeNow(reportID: String, userID: String) async throws -> Report? {
        guard let (report, owner) = try await store.start(id: reportID), owner == userID else { return nil }
        try await make(report, userID: userID, attempt: 0)
        return try await store.report(id: reportID, userID: userID)
    }

    /// - Parameter attempt: each attempt stores under a key of its own, so an attempt that lost
    ///   its lease and runs on cannot overwrite or delete the file another attempt finished.
    func make(_ report: Report, userID: String, attempt: Int) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-report-\(report.id)-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let store = store
        let progress: @Sendable (Int) async throws -> Void = { percent in
            try await store.progress(id: report.id, userID: userID, percent: percent)
        }
        let count: Int64
        if report.format == .pdf {
            count = try await makePDF(report, userID: userID, to: file, progress: progress)
        } else {
            guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
            let handle = try FileHandle(forWritingTo: file)
            var writer: any ReportWriter = report.format == .csv
                ? try CSVReportWriter(file: handle, columns: report.type.columns)
                : try JSONReportWriter(file: handle, report: report, columns: report.type.columns)
            count = try await rows.stream(report, userID: userID, progress: progress, row: { values in try writer.write(values) })
            try writer.finish()
        }
        let (size, digest) = try Self.sizeAndDigest(of: file)
        let key = "reports/\(userID)/\(report.id)-\(attempt).\(report.format.rawValue)"
        _ = try await storage.put(key: key, file: file, contentType: report.format.contentType)
        if try await !store.finish(id: report.id, userID: userID, storageKey: key, rows: count, size: size, sha256: digest, retention: retention) {
            // Deleted while it was being made, or another attempt finished it: this file goes.
            try await storage.delete(keys: [key])
        }
    }

    /// A PDF: the digest read from one snapshot, laid out in a private scratch folder.
    /// - Returns: how many rows the same report holds as CSV or JSON.
    private func makePDF(_ report: Report, userID: String, to file: URL, progress: @Sendable (Int) async throws -> Void) async throws -> Int64 {
        let digest = try await rows.digest(report, userID: userID)
        try await progress(30)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-pdf-\(report.id)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await PDFReport(report: report, digest: digest, generatedAt: Date()).write(to: file, folder: folder, progress: progress)
        return digest.rowCount
    }

    /// The file's size and SHA-256 (hex), read in chunks.
    static func sizeAndDigest(of file: URL) throws -> (Int64, String) {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var hash = SHA256()
        var size: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hash.update(data: chunk)
            size += Int64(chunk.count)
        }
        return (size, hash.finalize().map { String(format: "%02x", $0) }.joined())
    }
}
