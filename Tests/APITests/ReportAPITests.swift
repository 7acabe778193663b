@testable import API
import Domain
import Foundation
import HTTPTypes
import Queue
import TestSupport
import Testing

/// The report routes through the router, with real workers making the files: generate, read,
/// download (ETag, Range, 304, 409, 410, 416), list, delete, the analytics export, idempotency
/// and tenancy.
@Suite struct ReportAPITests {
    @Test func reportsAreGeneratedListedDownloadedAndDeleted() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            try await withAPI(db, artifacts: try fleet.storage) { api in
                let token = try await signUp(api, db, "reports@example.com", tier: "enterprise")
                let stranger = try await signUp(api, db, "nosy@example.com")
                let userID = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
                let history = try await db.createReportHistory(userID: userID)
                let available = try await api.call(.get, "/reports/available", token: token).decode(Components.Schemas.ReportTypeList.self)
                #expect(available.reports.map(\._type.rawValue) == ReportType.allCases.map(\.rawValue))
                #expect(available.reports.first { $0._type == .cost }?.columns == ReportType.cost.columns)

                let generated = try await api.call(.post, "/reports/generate", json: ["type": "cost", "format": "csv", "period": "last_30_days"],
                                                   token: token, headers: [HTTPField.Name("Idempotency-Key")!: "cost-1"])
                #expect(generated.status == .accepted, "\(generated.body)")
                let queued = try generated.decode(Components.Schemas.Report.self)
                #expect(queued.status == .queued && queued.downloadUrl == nil)
                // The same key and body: the same report; another body under the key: 409.
                let replay = try await api.call(.post, "/reports/generate", json: ["type": "cost", "format": "csv", "period": "last_30_days"],
                                                token: token, headers: [HTTPField.Name("Idempotency-Key")!: "cost-1"])
                #expect(try replay.decode(Components.Schemas.Report.self).reportId == queued.reportId)
                let clash = try await api.call(.post, "/reports/generate", json: ["type": "summary", "format": "csv"],
                                               token: token, headers: [HTTPField.Name("Idempotency-Key")!: "cost-1"])
                #expect(clash.status == .conflict)
                // Not ready yet.
                #expect(try await api.call(.get, "/reports/\(queued.reportId)/download", token: token).status == .conflict)

                let export = try await api.call(.post, "/analytics/export", json: ["format": "json", "channel_ids": [history.channels[0]]], token: token)
                #expect(export.status == .accepted, "\(export.body)")
                let exported = try export.decode(Components.Schemas.Report.self)
                #expect(exported._type == .analytics && exported.format == .json && exported.channelIds == [history.channels[0]])

                let made = try await fleet.run(workers: 1, queues: [ReportJobArgs.queue: 2]) {
                    try await eventually(timeout: .seconds(60)) { try await db.scalar("SELECT count(*) FROM reports WHERE status = 'ready'") == 2 }
                }
                #expect(made)
                let ready = try await api.call(.get, "/reports/\(queued.reportId)", token: token).decode(Components.Schemas.Report.self)
                #expect(ready.status == .ready && ready.progress == 100 && ready.rows == Int64(history.ledgerRows))
                #expect(ready.downloadUrl == "/api/v1/reports/\(queued.reportId)/download" && ready.expiresAt != nil)
                let size = try #require(ready.sizeBytes), sha = try #require(ready.sha256)

                let download = try await api.call(.get, "/reports/\(queued.reportId)/download", token: token)
                #expect(download.status == .ok && Int64(download.data.count) == size)
                #expect(download.headers[.contentType]?.hasPrefix("text/csv") == true)
                #expect(download.headers[.contentDisposition]?.contains("ytempire-cost-") == true)
                #expect(download.headers[.eTag] == "\"\(sha)\"" && download.headers[.acceptRanges] == "bytes")
                #expect(String(decoding: download.data, as: UTF8.self).hasPrefix(ReportType.cost.columns.joined(separator: ",") + "\r\n"))
                let cached = try await api.call(.get, "/reports/\(queued.reportId)/download", token: token, headers: [.ifNoneMatch: "\"\(sha)\""])
                #expect(cached.status == .notModified && cached.data.isEmpty)
                let part = try await api.call(.get, "/reports/\(queued.reportId)/download", token: token, headers: [.range: "bytes=5-14"])
                #expect(part.status == .partialContent && part.data == download.data.subdata(in: 5..<15))
                #expect(part.headers[.contentRange] == "bytes 5-14/\(size)")
                let tail = try await api.call(.get, "/reports/\(queued.reportId)/download", token: token, headers: [.range: "bytes=-4"])
                #expect(tail.status == .partialContent && tail.data == download.data.suffix(4))
                let outside = try await api.call(.get, "/reports/\(queued.reportId)/download", token: token, headers: [.range: "bytes=\(size + 10)-"])
                #expect(outside.status == .rangeNotSatisfiable && outside.headers[.contentRange] == "bytes */\(size)")
                let json = try await api.call(.get, "/reports/\(exported.reportId)/download", token: token)
                #expect(json.status == .ok && json.headers[.contentDisposition]?.contains(".json") == true)
                #expect((try JSONSerialization.jsonObject(with: json.data) as? [String: Any])?["rows"] as? [Any] != nil)

                // Tenancy: another user sees none of it.
                for path in ["/reports/\(queued.reportId)", "/reports/\(queued.reportId)/download"] {
                    #expect(try await api.call(.get, path, token: stranger).status == .notFound)
                }
                #expect(try await api.call(.delete, "/reports/\(queued.reportId)", token: stranger).status == .notFound)
                #expect(try await api.call(.get, "/reports", token: stranger).decode(Components.Schemas.ReportList.self).total == 0)
                let listed = try await api.call(.get, "/reports?limit=1", token: token).decode(Components.Schemas.ReportList.self)
                #expect(listed.total == 2 && listed.reports.map(\.reportId) == [exported.reportId])

                // Expired: 410; deleted: 404.
                try await db.client.query("UPDATE reports SET status = 'expired', storage_key = NULL WHERE id = \(exported.reportId)", logger: db.logger)
                #expect(try await api.call(.get, "/reports/\(exported.reportId)/download", token: token).status == .gone)
                #expect(try await api.call(.delete, "/reports/\(queued.reportId)", token: token).status == .ok)
                #expect(try await api.call(.get, "/reports/\(queued.reportId)", token: token).status == .notFound)

                // Bad requests.
                let bad: [[String: Any]] = [
                    ["type": "cost", "format": "csv", "period": "last_7_days", "date_from": "2026-01-01", "date_to": "2026-01-02"],
                    ["type": "cost", "format": "csv", "date_from": "2026-01-05", "date_to": "2026-01-01"],
                    ["type": "cost", "format": "csv", "date_from": "2024-01-01", "date_to": "2026-01-01"],
                    ["type": "cost", "format": "csv", "date_from": "2026-01-01"],
                    ["type": "cost", "format": "pdfx"],
                    ["type": "costs", "format": "csv"],
                ]
                for body in bad {
                    let refused = try await api.call(.post, "/reports/generate", json: body, token: token)
                    #expect(refused.status == .badRequest, "\(body): \(refused.body)")
                }
                let foreign = try await api.call(.post, "/reports/generate", json: ["type": "cost", "format": "csv", "channel_ids": [history.channels[0]]],
                                                 token: stranger)
                #expect(foreign.status == .notFound)

                // A weekly report: the first now, then one every Monday 09:00 in Tokyo.
                let weekly = try await api.call(.post, "/reports/generate", json: [
                    "type": "summary", "format": "json", "period": "last_7_days", "schedule": ["cron": "0 9 * * mon", "time_zone": "Asia/Tokyo"],
                ], token: token)
                #expect(weekly.status == .accepted, "\(weekly.body)")
                let scheduled = try weekly.decode(Components.Schemas.Report.self)
                #expect(scheduled.period == "last_7_days" && scheduled.schedule?.timeZone == "Asia/Tokyo")
                #expect(scheduled.schedule?.nextRunAt == (try CronSchedule("0 9 * * 1", timeZone: try #require(TimeZone(identifier: "Asia/Tokyo")))
                    .next(after: Date())))
                for (schedule, field) in [(["cron": "61 * * * *"], "schedule.cron"), (["cron": "@daily", "time_zone": "Mars/Olympus"], "schedule.time_zone"),
                                          (["cron": "*/5 * * * *"], "schedule.cron")] {
                    let refused = try await api.call(.post, "/reports/generate", json: ["type": "summary", "format": "csv", "schedule": schedule], token: token)
                    #expect(try refused.status == .badRequest && (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == field, "\(refused.body)")
                }
                let withDates = try await api.call(.post, "/reports/generate", json: [
                    "type": "summary", "format": "csv", "date_from": "2026-11-01", "date_to": "2026-11-02", "schedule": ["cron": "@daily"],
                ], token: token)
                #expect(withDates.status == .badRequest)
            }
        }
    }
}
