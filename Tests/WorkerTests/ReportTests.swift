import CSV
import Crypto
import Domain
import Foundation
import Providers
import Queue
import TestSupport
import Testing
import Worker

/// Reports made by real workers from a seeded account: every type in every format, read back
/// by parsing the file, with its size and sha256, tenancy, deletion and expiry.
@Suite struct ReportTests {
    /// Makes the report on a fleet and returns it, ready, with its file's bytes.
    func make(_ request: ReportRequest, history: ReportHistory, fleet: PipelineFleet, db: TestDatabase) async throws -> (Report, Data) {
        let store = ReportStore(client: db.client, logger: db.logger)
        let (queued, created) = try await store.create(userID: history.userID, request: request, idempotencyKey: nil)
        #expect(created && queued.status == .queued)
        let ready = try await fleet.run(workers: 1, queues: [ReportJobArgs.queue: 2]) {
            try await eventually(timeout: .seconds(60)) { try await store.report(id: queued.id, userID: history.userID)?.status == .ready }
        }
        #expect(ready)
        let report = try #require(try await store.report(id: queued.id, userID: history.userID))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try await fleet.storage.fetch(key: try #require(report.storageKey), to: file)
        let data = try Data(contentsOf: file)
        #expect(Int64(data.count) == report.sizeBytes)
        #expect(SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() == report.sha256)
        #expect(report.filename == "ytempire-\(request.type.rawValue)-\(request.from)-\(request.to).\(request.format.rawValue)")
        return (report, data)
    }

    func parseCSV(_ data: Data) throws -> [[String]] {
        let reader = try CSVReader(string: String(decoding: data, as: UTF8.self), hasHeaderRow: false)
        var rows: [[String]] = []
        while let row = reader.next() { rows.append(row) }
        return rows
    }

    /// A PDF read back with poppler-utils: its text (`pdftotext -layout`), its page count
    /// (`pdfinfo`) and its first page rendered as PNG (`pdftoppm`).
    func readPDF(_ data: Data) async throws -> (text: String, pages: Int, firstPagePNG: Data) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString).pdf")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let tools = ProcessRunner()
        let text = String(decoding: try await tools.run("pdftotext", ["-layout", file.path, "-"]), as: UTF8.self)
        let info = String(decoding: try await tools.run("pdfinfo", [file.path]), as: UTF8.self)
        let pages = info.split(separator: "\n").first { $0.hasPrefix("Pages:") }
            .flatMap { Int($0.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        let image = file.deletingPathExtension()
        try await tools.run("pdftoppm", ["-png", "-r", "30", "-f", "1", "-l", "1", "-singlefile", file.path, image.path])
        defer { try? FileManager.default.removeItem(at: image.appendingPathExtension("png")) }
        return (text, pages, try Data(contentsOf: image.appendingPathExtension("png")))
    }

    @Test func everyTypeInEveryFormatReadsBackToTheLedgerAndTheAnalytics() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            let user = try await db.createUser()
            let history = try await db.createReportHistory(userID: user)
            let from = QuotaDay.of(Date(), daysBefore: 29), to = QuotaDay.of(Date())
            for type in ReportType.allCases {
                // CSV: RFC 4180 with a header row; the hostile title is neutralised.
                let (csvReport, csvData) = try await make(ReportRequest(type: type, format: .csv, from: from, to: to, channelIDs: []),
                                                          history: history, fleet: fleet, db: db)
                #expect(String(decoding: csvData, as: UTF8.self).contains("\r\n"), "CRLF line ends")
                let rows = try parseCSV(csvData)
                #expect(rows.first == type.columns)
                let body = Array(rows.dropFirst())
                #expect(Int64(body.count) == csvReport.rows)
                let column = { (name: String) in type.columns.firstIndex(of: name) ?? 0 }
                switch type {
                case .performance:
                    #expect(body.count == history.videos.count)
                    let titles = body.map { $0[column("title")] }
                    #expect(titles.contains("'" + ReportHistory.hostileTitle) && !titles.contains(ReportHistory.hostileTitle))
                    #expect(titles.contains("Line\nbreak, comma"))
                    #expect(body.allSatisfy { !$0[column("title")].hasPrefix("=") })
                case .cost:
                    #expect(body.count == history.ledgerRows)
                    let micros = body.map { Money(dollars: Double($0[column("amount")]) ?? -1).micros }.reduce(0, +)
                    #expect(micros == history.spend)
                    #expect(Set(body.map { $0[column("channel_name")] }) == ["Alpha", "Beta, \"quoted\""])
                case .analytics:
                    #expect(body.count == history.analyticsDays)
                    #expect(body.map { Int64($0[column("views")]) ?? -1 }.reduce(0, +) == history.views)
                    #expect(body.map { Money(dollars: Double($0[column("revenue")]) ?? -1).micros }.reduce(0, +) == history.revenue)
                case .summary:
                    let figures = Dictionary(uniqueKeysWithValues: body.map { ($0[0], $0[1]) })
                    #expect(figures["spend"].flatMap(Double.init).map { Money(dollars: $0).micros } == history.spend)
                    #expect(figures["views"] == String(history.views))
                    #expect(figures["videos_made"] == "3")
                    let ratio = Double(history.revenue) / Double(history.spend)
                    #expect(figures["return_on_cost"].flatMap(Double.init).map { abs($0 - ratio) < 1e-9 } == true)
                }
                // JSON: the same rows as objects under the documented keys.
                let (jsonReport, jsonData) = try await make(ReportRequest(type: type, format: .json, from: from, to: to, channelIDs: []),
                                                            history: history, fleet: fleet, db: db)
                let object = try #require(try JSONSerialization.jsonObject(with: jsonData) as? [String: Any])
                #expect(object["columns"] as? [String] == type.columns)
                let header = try #require(object["report"] as? [String: Any])
                #expect(header["id"] as? String == jsonReport.id && header["date_from"] as? String == from)
                let jsonRows = try #require(object["rows"] as? [[String: Any]])
                #expect(jsonRows.count == body.count && Int64(jsonRows.count) == jsonReport.rows)
                if type == .cost {
                    let micros = jsonRows.map { Money(dollars: ($0["amount"] as? NSNumber)?.doubleValue ?? -1).micros }.reduce(0, +)
                    #expect(micros == history.spend)
                }
                if type == .performance {
                    #expect(jsonRows.contains { $0["title"] as? String == ReportHistory.hostileTitle }, "JSON keeps the title as it is")
                }
                // PDF: it opens (its first page renders), and its text holds the account, the
                // period, the headline figures, the charts' titles and the type's tables.
                let (pdfReport, pdfData) = try await make(ReportRequest(type: type, format: .pdf, from: from, to: to, channelIDs: []),
                                                          history: history, fleet: fleet, db: db)
                #expect(pdfReport.rows == csvReport.rows, "a PDF counts the rows its CSV holds")
                let pdf = try await readPDF(pdfData)
                #expect(pdf.firstPagePNG.starts(with: [0x89, 0x50, 0x4E, 0x47]), "page 1 renders as an image")
                #expect(type == .summary ? pdf.pages == 1 : pdf.pages >= 3, "\(type): \(pdf.pages) pages")
                let title = ["performance": "Performance report", "cost": "Cost report", "analytics": "Analytics report",
                             "summary": "Account summary"][type.rawValue] ?? ""
                for expected in [title, "(30 days)", user + "@example.test", "Test User", "At a glance",
                                 "$1.89", "1,540", "Revenue and cost per day (USD)"] {
                    #expect(pdf.text.contains(expected), "\(type) PDF lacks \(expected)")
                }
                let tables: [String] = switch type {
                case .performance: ["Most viewed videos", "Plain title", "HYPERLINK", "All videos", "By channel", "Views per day"]
                case .cost: ["Spend by provider", "openai", "elevenlabs", "Spend by stage", "thumbnail", "Most expensive videos",
                             "Spend by provider (USD)", "Total"]
                case .analytics: ["By channel", "Alpha", "Beta, \"quoted\"", "Subscribers", "Total"]
                case .summary: []
                }
                for expected in tables { #expect(pdf.text.contains(expected), "\(type) PDF lacks \(expected)") }
            }
            // One channel only.
            let (narrow, narrowData) = try await make(ReportRequest(type: .cost, format: .csv, from: from, to: to, channelIDs: [history.channels[1]]),
                                                      history: history, fleet: fleet, db: db)
            #expect(narrow.channelIDs == [history.channels[1]])
            #expect(try parseCSV(narrowData).dropFirst().allSatisfy { $0[2] == "Beta, \"quoted\"" })
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'report.ready' AND user_id = \(user)") == 13)
        }
    }

    @Test func reportsAreTheirOwnersOnlyAndGoAwayWhenDeletedOrExpired() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            let user = try await db.createUser()
            let stranger = try await db.createUser()
            let history = try await db.createReportHistory(userID: user)
            let store = ReportStore(client: db.client, logger: db.logger)
            let today = QuotaDay.of(Date())
            let request = ReportRequest(type: .cost, format: .csv, from: today, to: today, channelIDs: [])
            // Bad requests.
            for bad in [ReportRequest(type: .cost, format: .csv, from: "2026-02-30", to: today, channelIDs: []),
                        ReportRequest(type: .cost, format: .csv, from: today, to: "2020-01-01", channelIDs: []),
                        ReportRequest(type: .cost, format: .csv, from: "2020-01-01", to: "2021-06-01", channelIDs: [])] {
                await #expect(throws: DomainError.self) { _ = try await store.create(userID: user, request: bad, idempotencyKey: nil) }
            }
            await #expect(throws: (any Error).self, "another user's channel") {
                _ = try await store.create(userID: stranger, request: ReportRequest(type: .cost, format: .csv, from: today, to: today,
                                                                                      channelIDs: [history.channels[0]]), idempotencyKey: nil)
            }
            // Idempotency: the same key and body give the same report; another body is a conflict.
            let (first, _) = try await store.create(userID: user, request: request, idempotencyKey: "k-1")
            let (again, created) = try await store.create(userID: user, request: request, idempotencyKey: "k-1")
            #expect(again.id == first.id && !created)
            await #expect(throws: (any Error).self) {
                _ = try await store.create(userID: user, request: ReportRequest(type: .summary, format: .csv, from: today, to: today, channelIDs: []),
                                           idempotencyKey: "k-1")
            }
            #expect(try await store.report(id: first.id, userID: stranger) == nil)
            // Deleted while queued: its job is cancelled.
            #expect(try await store.delete(id: first.id, userID: stranger).found == false)
            #expect(try await store.delete(id: first.id, userID: user).found)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'report.generate' AND state = 'cancelled'") == 1)
            // Made, then expired: the file goes.
            let (kept, _) = try await store.create(userID: user, request: request, idempotencyKey: nil)
            let made = try await fleet.run(workers: 1, queues: [ReportJobArgs.queue: 1]) {
                try await eventually(timeout: .seconds(60)) { try await store.report(id: kept.id, userID: user)?.status == .ready }
            }
            #expect(made)
            let key = try #require(try await store.report(id: kept.id, userID: user)?.storageKey)
            try await db.client.query("UPDATE reports SET expires_at = now() - interval '1 second' WHERE id = \(kept.id)", logger: db.logger)
            let jobs = ReportJobs(client: db.client, storage: try fleet.storage, logger: db.logger)
            #expect(try await jobs.expire() == 1)
            #expect(try await store.report(id: kept.id, userID: user)?.status == .expired)
            let gone = FileManager.default.temporaryDirectory.appendingPathComponent("gone-\(UUID().uuidString)")
            let storage = try fleet.storage
            await #expect(throws: (any Error).self) { try await storage.fetch(key: key, to: gone) }
            #expect(try await jobs.expire() == 0)
            // A report whose job ended without making it (its worker died on the last attempt) is failed, and the user told.
            let (orphan, _) = try await store.create(userID: user, request: request, idempotencyKey: nil)
            try await db.client.query("""
                UPDATE jobs SET state = 'discarded', finished_at = now() WHERE kind = 'report.generate' AND state = 'available'
                """, logger: db.logger)
            try await db.client.query("UPDATE reports SET created_at = now() - interval '2 minutes' WHERE id = \(orphan.id)", logger: db.logger)
            _ = try await jobs.expire()
            #expect(try await store.report(id: orphan.id, userID: user)?.status == .failed)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'report.failed' AND user_id = \(user)") == 1)
        }
    }

    @Test func aWeeklyReportInTokyoRunsOnTheirMondayAcrossASimulatedWeek() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            let user = try await db.createUser()
            _ = try await db.createReportHistory(userID: user)
            let store = ReportStore(client: db.client, logger: db.logger)
            let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
            let cron = try CronSchedule("0 9 * * 1", timeZone: tokyo)
            let today = QuotaDay.of(Date())
            await #expect(throws: (any Error).self, "a schedule needs a period") {
                _ = try await store.create(userID: user, request: ReportRequest(type: .summary, format: .csv, from: today, to: today, channelIDs: []),
                                           idempotencyKey: nil, schedule: cron)
            }
            let days = try ReportRequest.days(of: "last_7_days", today: try await store.today(userID: user))
            let (origin, _) = try await store.create(userID: user, request: ReportRequest(type: .summary, format: .csv, from: days.from, to: days.to,
                                                                                          channelIDs: [], period: "last_7_days"),
                                                     idempotencyKey: nil, schedule: cron)
            let schedule = try #require(origin.schedule)
            let monday = try #require(cron.next(after: Date()))
            #expect(schedule.nextRunAt == monday && schedule.cron == "0 9 * * 1" && schedule.timeZone == "Asia/Tokyo")
            #expect(Calendar.current.dateComponents(in: tokyo, from: monday).weekday == 2)
            // A week on the leader's clock, an hour at a time: one run, on Monday 09:00 in Tokyo.
            final class Clock: @unchecked Sendable { var now = Date() }
            let clock = Clock()
            let enqueuer = PeriodicEnqueuer(store: PeriodicJobStore(client: db.client, logger: db.logger), now: { clock.now })
            for _ in 0..<(7 * 24) {
                clock.now = clock.now.addingTimeInterval(3600)
                _ = try await enqueuer.runOnce()
            }
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'report.schedule.run'") == 1)
            #expect(try await db.scalar("""
                SELECT count(*) FROM jobs WHERE kind = 'report.schedule.run' AND args->>'scheduled_at' = \(monday.formatted(.iso8601))
                """) == 1)
            let made = try await fleet.run(workers: 1, queues: [ReportJobArgs.queue: 2]) {
                try await eventually(timeout: .seconds(60)) {
                    try await db.scalar("SELECT count(*) FROM reports WHERE schedule_id = \(schedule.id) AND status = 'ready'") == 2
                }
            }
            #expect(made, "the first report and the Monday run's are both made")
            let run = try #require(try await store.list(userID: user, offset: 0, limit: 10).reports.first { $0.id != origin.id })
            #expect(run.period == "last_7_days" && run.schedule?.id == schedule.id && run.type == .summary)
            let mondayLocal = LocalDate.string(monday)  // the user's zone is UTC: Monday 00:00 UTC is Monday
            #expect(run.to == mondayLocal)
            // A retried run finds the report it made.
            let args = ReportScheduleArgs(scheduleID: schedule.id, userID: user, type: .summary, format: .csv, period: "last_7_days",
                                          channelIDs: [], scheduledAt: monday.formatted(.iso8601))
            #expect(try await store.createScheduled(args)?.id == run.id)
            // Deleting a report of the schedule stops it.
            #expect(try await store.delete(id: origin.id, userID: user).found)
            #expect(try await PeriodicJobStore(client: db.client, logger: db.logger).job(id: schedule.id) == nil)
            #expect(try await store.report(id: run.id, userID: user)?.schedule?.nextRunAt == nil)
        }
    }

    /// Rows written while a report is being made do not reach it: it reads one snapshot.
    @Test func aReportReadsOneSnapshotWhileTheLedgerChanges() async throws {
        try await withDatabase { db in
            let user = try await db.createUser()
            let history = try await db.createReportHistory(userID: user)
            let store = ReportStore(client: db.client, logger: db.logger)
            let today = QuotaDay.of(Date())
            let from = QuotaDay.of(Date(), daysBefore: 29)
            let (queued, _) = try await store.create(userID: user, request: ReportRequest(type: .cost, format: .csv, from: from, to: today,
                                                                                         channelIDs: []), idempotencyKey: nil)
            let report = try #require(try await store.start(id: queued.id)?.0)
            var rows: [[ReportValue]] = []
            let other = db.makeClient()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await other.run() }
                let count = try await ReportRows(client: db.client, logger: db.logger).stream(report, userID: user, progress: { _ in }) { row in
                    if rows.isEmpty {
                        // Another transaction spends more and commits while the report is read.
                        try await other.query("""
                            INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis)
                            VALUES (990001, 1, \(history.videos[0]), \(user), 'script', 'openai', 'gpt-4o', 1, 'call', 9, 9000000, 'actual')
                            """, logger: db.logger)
                    }
                    rows.append(row)
                }
                #expect(count == Int64(history.ledgerRows) && rows.count == history.ledgerRows)
                group.cancelAll()
            }
            let amount = ReportType.cost.columns.firstIndex(of: "amount") ?? 0
            let micros = rows.map { row -> Int64 in if case .money(let value) = row[amount] { value } else { -1 } }.reduce(0, +)
            #expect(micros == history.spend, "the row committed meanwhile is not in the report")
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE user_id = \(user)") == history.ledgerRows + 1)
        }
    }
}
