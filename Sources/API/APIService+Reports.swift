package import Foundation
import Domain
import HTTPTypes
import Queue
package import OpenAPIRuntime

/// Reports: files made by report jobs, and the analytics export that is one of them.
extension APIService {
    func listReportTypes(_ input: Operations.ListReportTypes.Input) async throws -> Operations.ListReportTypes.Output {
        _ = try CurrentUser.require()
        return .ok(.init(body: .json(.init(
            reports: ReportType.allCases.map { type in
                .init(_type: .init(rawValue: type.rawValue) ?? .summary, description: type.summary,
                      formats: ReportFormat.allCases.compactMap { .init(rawValue: $0.rawValue) },
                      parameters: ["period or date_from and date_to (at most 366 days)", "channel_ids (optional, up to 50 of yours)"],
                      columns: type.columns)
            },
            periods: ReportRequest.periods))))
    }

    func generateReport(_ input: Operations.GenerateReport.Input) async throws -> Operations.GenerateReport.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let report = try await queueReport(type: ReportType(rawValue: body._type.rawValue) ?? .summary,
                                           format: ReportFormat(rawValue: body.format.rawValue) ?? .csv, period: body.period?.rawValue,
                                           from: body.dateFrom, to: body.dateTo, channelIDs: body.channelIds, idempotencyKey: input.headers.idempotencyKey,
                                           schedule: body.schedule)
        return .accepted(.init(body: .json(report.schema)))
    }

    func exportAnalytics(_ input: Operations.ExportAnalytics.Input) async throws -> Operations.ExportAnalytics.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let report = try await queueReport(type: .analytics, format: ReportFormat(rawValue: body.format.rawValue) ?? .csv,
                                           period: body.period?.rawValue, from: body.dateFrom, to: body.dateTo, channelIDs: body.channelIds,
                                           idempotencyKey: input.headers.idempotencyKey)
        return .accepted(.init(body: .json(report.schema)))
    }

    /// A period or both dates (the last 30 days when neither is given), resolved in the
    /// user's time zone, then the report queued.
    private func queueReport(type: ReportType, format: ReportFormat, period: String?, from: String?, to: String?, channelIDs: [String]?,
                             idempotencyKey: String?, schedule: Components.Schemas.ReportScheduleRequest? = nil) async throws -> Report {
        let caller = try CurrentUser.require()
        let store = ReportStore(client: client, logger: logger)
        var cron: CronSchedule?
        if let schedule {
            var zoneName = schedule.timeZone ?? ""
            if schedule.timeZone == nil { zoneName = try await store.timeZone(userID: caller.user.id) }
            try InputLimits.check(zoneName, max: 64, field: "schedule.time_zone")
            guard let zone = TimeZone(identifier: zoneName) else {
                throw APIError.validation("schedule.time_zone must name an IANA time zone such as Europe/Paris", field: "schedule.time_zone")
            }
            do { cron = try CronSchedule(schedule.cron, timeZone: zone) } catch let error as QueueError {
                throw APIError.validation("schedule.cron: \(error.message)", field: "schedule.cron")
            }
        }
        // A schedule's runs each take their days from the period (the last 30 days unless named).
        let named = period ?? (cron != nil && from == nil && to == nil ? "last_30_days" : nil)
        let days: (from: String, to: String)
        switch (period, from, to) {
        case (.some, .some, _), (.some, _, .some):
            throw APIError.validation("Give a period or date_from and date_to, not both", field: "period")
        case (.some, nil, nil):
            days = try ReportRequest.days(of: named ?? "last_30_days", today: try await store.today(userID: caller.user.id))
        case (nil, .some(let from), .some(let to)):
            days = (from, to)
        case (nil, .some, nil), (nil, nil, .some):
            throw APIError.validation("date_from and date_to go together", field: from == nil ? "date_from" : "date_to")
        case (nil, nil, nil):
            days = try ReportRequest.days(of: named ?? "last_30_days", today: try await store.today(userID: caller.user.id))
        }
        for id in channelIDs ?? [] { try InputLimits.check(id, max: 64, field: "channel_ids") }
        let request = ReportRequest(type: type, format: format, from: days.from, to: days.to, channelIDs: channelIDs ?? [],
                                    period: from == nil ? named : nil)
        return try await store.create(userID: caller.user.id, request: request, idempotencyKey: idempotencyKey, schedule: cron).0
    }

    func listReports(_ input: Operations.ListReports.Input) async throws -> Operations.ListReports.Output {
        let caller = try CurrentUser.require()
        let pagination = try Pagination(page: input.query.page, limit: input.query.limit)
        let (reports, total) = try await ReportStore(client: client, logger: logger)
            .list(userID: caller.user.id, offset: pagination.offset, limit: pagination.limit)
        return .ok(.init(body: .json(.init(reports: reports.map(\.schema), total: total, page: pagination.page, limit: pagination.limit))))
    }

    func getReport(_ input: Operations.GetReport.Input) async throws -> Operations.GetReport.Output {
        let caller = try CurrentUser.require()
        guard let report = try await ReportStore(client: client, logger: logger).report(id: input.path.reportId, userID: caller.user.id) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(report.schema)))
    }

    func deleteReport(_ input: Operations.DeleteReport.Input) async throws -> Operations.DeleteReport.Output {
        let caller = try CurrentUser.require()
        let (found, key) = try await ReportStore(client: client, logger: logger).delete(id: input.path.reportId, userID: caller.user.id)
        guard found else { throw APIError.notFound }
        if let key { try? await artifacts?.delete(keys: [key]) }
        return .ok(.init(body: .json(.init(message: "The report was deleted"))))
    }

    func downloadReport(_ input: Operations.DownloadReport.Input) async throws -> Operations.DownloadReport.Output {
        let caller = try CurrentUser.require()
        guard let report = try await ReportStore(client: client, logger: logger).report(id: input.path.reportId, userID: caller.user.id) else {
            throw APIError.notFound
        }
        switch report.status {
        case .expired:
            throw APIError(.gone, code: "gone", message: "The report expired and its file was removed; make it again")
        case .queued, .generating, .failed:
            throw APIError(.conflict, code: "conflict", message: "The report is \(report.status.rawValue); download it once it is ready")
        case .ready: break
        }
        guard let storage = artifacts, let key = report.storageKey, let size = report.sizeBytes, let sha = report.sha256 else {
            throw APIError.notFound
        }
        let etag = "\"\(sha)\""
        let disposition = "attachment; filename=\"\(report.filename)\""
        if let match = input.headers.ifNoneMatch, match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0 == "*" }) {
            return .notModified(.init())
        }
        let range: ClosedRange<Int64>?
        switch ByteRange.parse(input.headers.range, size: size) {
        case .whole: range = nil
        case .part(let part): range = part
        case .unsatisfiable:
            var error = APIError(.rangeNotSatisfiable, code: "range_not_satisfiable", message: "The file has \(size) bytes; ask for a range within them")
            error.headers[.contentRange] = "bytes */\(size)"
            throw error
        }
        // Copied from storage (a shared directory or a bucket) to a local file, then streamed in
        // chunks: memory stays bounded whatever the report's size.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-report-\(UUID().uuidString)")
        do { try await storage.fetch(key: key, to: file) } catch {
            try? FileManager.default.removeItem(at: file)
            throw error
        }
        let stream = try TemporaryFileStream(url: file, range: range)
        let body = HTTPBody(stream.chunks, length: .known(stream.size), iterationBehavior: .single)
        if let range {
            return .partialContent(.init(headers: .init(eTag: etag, contentRange: "bytes \(range.lowerBound)-\(range.upperBound)/\(size)",
                                                        contentDisposition: disposition), body: .binary(body)))
        }
        let headers = Operations.DownloadReport.Output.Ok.Headers(eTag: etag, contentDisposition: disposition, acceptRanges: "bytes")
        let content: Operations.DownloadReport.Output.Ok.Body = switch report.format {
        case .csv: .csv(body)
        case .pdf: .pdf(body)
        case .json: .binary(body)  // a JSON body of the generator's would be a string in memory
        }
        return .ok(.init(headers: headers, body: content))
    }
}

/// One `Range: bytes=…` header against a file of `size` bytes (RFC 9110: one range; anything
/// else is ignored and the whole file sent).
enum ByteRange: Equatable {
    case whole
    case part(ClosedRange<Int64>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int64) -> ByteRange {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst("bytes=".count)
        let pieces = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard pieces.count == 2, pieces[0].count <= 18, pieces[1].count <= 18 else { return .whole }
        if pieces[0].isEmpty {
            guard let suffix = Int64(pieces[1]), suffix > 0 else { return pieces[1].allSatisfy(\.isNumber) ? .unsatisfiable : .whole }
            guard size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)...(size - 1))
        }
        guard let start = Int64(pieces[0]) else { return .whole }
        let end = pieces[1].isEmpty ? size - 1 : (Int64(pieces[1]) ?? -1)
        guard end >= start || pieces[1].isEmpty else { return .whole }
        guard start < size else { return .unsatisfiable }
        return .part(start...min(end, size - 1))
    }
}

extension Report {
    var schema: Components.Schemas.Report {
        .init(reportId: id, _type: .init(rawValue: type.rawValue) ?? .summary, format: .init(rawValue: format.rawValue) ?? .csv,
              status: .init(status), progress: progress, dateFrom: from, dateTo: to, channelIds: channelIDs, rows: rows, sizeBytes: sizeBytes,
              sha256: sha256, error: error, downloadUrl: status == .ready ? "\(APIServer.basePath)/reports/\(id)/download" : nil,
              period: period, schedule: schedule.map { .init(scheduleId: $0.id, cron: $0.cron, timeZone: $0.timeZone, nextRunAt: $0.nextRunAt) },
              createdAt: createdAt, readyAt: readyAt, expiresAt: expiresAt)
    }
}

extension Components.Schemas.Report.StatusPayload {
    init(_ status: ReportStatus) {
        switch status {
        case .queued: self = .queued
        case .generating: self = .generating
        case .ready: self = .ready
        case .failed: self = .failed
        case .expired: self = .expired
        }
    }
}
