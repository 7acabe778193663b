import Domain
import Foundation
import Mustache
import Providers

/// Lays out a report's digest as a PDF a person would want to read: a title page with the
/// account, the period and the headline figures; charts of views, revenue and cost per day
/// and of spend by provider (gnuplot, SVG); the type's tables with totals. The HTML comes from
/// the Mustache templates in `ReportTemplates` (every value escaped) and WeasyPrint prints it.
/// The title page carries the revenue and cost chart; the summary report is that page alone.
struct PDFReport {
    var report: Report
    var digest: ReportDigest
    var generatedAt: Date
    var tools = DocumentTools()

    /// The templates, loaded from the module's resources.
    static func templates() async throws -> MustacheLibrary {
        guard let folder = Bundle.module.url(forResource: "ReportTemplates", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "ReportTemplates"])
        }
        return try await MustacheLibrary(directory: folder.path)
    }

    /// Writes the PDF to `output`, drawing in `folder` (a private scratch directory).
    /// - Parameter progress: told the share done (0–100) after the charts and after the layout.
    func write(to output: URL, folder: URL, progress: (Int) async throws -> Void) async throws {
        let library = try await Self.templates()
        try await drawCharts(in: folder, library: library)
        try await progress(60)
        guard let html = library.render(page(folder: folder), withTemplate: "report") else { throw TemplateMissing(name: "report") }
        let page = folder.appendingPathComponent("report.html")
        try html.write(to: page, atomically: true, encoding: .utf8)
        try await tools.printPDF(page: page, to: output)
        try await progress(90)
    }

    struct TemplateMissing: Error, CustomStringConvertible {
        var name: String
        var description: String { "the report template '\(name)' is missing" }
    }

    // MARK: Charts

    private func drawCharts(in folder: URL, library: MustacheLibrary) async throws {
        var series = ""
        for day in digest.days {
            series += "\(day.day)\t\(day.views)\t\(ReportValue.money(day.revenue).text)\t\(ReportValue.money(day.cost).text)\n"
        }
        try series.write(to: folder.appendingPathComponent("days.tsv"), atomically: true, encoding: .utf8)
        // Tabs and line ends would break the data file; provider names are ours, but a name is a name.
        let providers = digest.providers.map { entry in
            entry.provider.map { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\"" ? " " : $0 }.reduce(into: "") { $0.append($1) }
                + "\t" + ReportValue.money(entry.amount).text + "\n"
        }.joined()
        try providers.write(to: folder.appendingPathComponent("providers.tsv"), atomically: true, encoding: .utf8)
        let days = digest.days.count
        let context: [String: Any] = [
            "dateFormat": days > 92 ? "%b %Y" : "%d %b",
            // About eight dates along the axis, in whole days (gnuplot counts seconds).
            "xticStep": max(1, days / 8) * 86_400,
            // One day is one point: a line through it would draw nothing.
            "lineStyle": days > 1 ? "lines lw 2" : "impulses lw 12",
            "providers": !digest.providers.isEmpty,
            "providerEnd": String(Double(digest.providers.count) - 0.4),
        ]
        guard let script = library.render(context, withTemplate: "charts") else { throw TemplateMissing(name: "charts") }
        let file = folder.appendingPathComponent("charts.gp")
        try script.write(to: file, atomically: true, encoding: .utf8)
        try await tools.plot(script: file)
    }

    // MARK: The page

    private func page(folder: URL) -> [String: Any] {
        let onePage = report.type == .summary
        var context: [String: Any] = [
            "title": title,
            "period": period,
            "accountName": digest.accountName.isEmpty ? digest.accountEmail : digest.accountName,
            "channels": digest.channels.isEmpty ? "None" : digest.channels.joined(separator: ", "),
            "timeZone": digest.timeZone,
            "generatedAt": Self.timestamp(generatedAt, zone: digest.timeZone),
            "figureRows": figureRows,
            "about": report.type.summary + " Amounts in US dollars. The CSV and JSON formats of this report hold every row ("
                + ReportValue.grouped(digest.rowCount) + ").",
            "onePage": onePage,
            "hasProviders": !digest.providers.isEmpty,
        ]
        if let budgets = budgets { context["budgets"] = budgets }
        // Mustache takes any string, even an empty one, as a section that is there.
        if !digest.accountName.isEmpty { context["accountEmail"] = digest.accountEmail }
        if !onePage {
            context["tables"] = digest.tables.map { table -> [String: Any] in
                func cells(_ row: [ReportValue]) -> [[String: Any]] {
                    zip(row, table.columns).map { ["text": Self.display($0, style: $1.style), "figure": $1.style.isFigure] }
                }
                var entry: [String: Any] = [
                    "title": table.title,
                    "columns": table.columns.map { ["name": $0.name, "figure": $0.style.isFigure] },
                    "rows": table.rows.map { ["cells": cells($0)] },
                    "hasRows": !table.rows.isEmpty,
                ]
                if let note = table.note { entry["note"] = note }
                if let totals = table.totals, !table.rows.isEmpty { entry["totals"] = ["cells": cells(totals)] }
                return entry
            }
        }
        return context
    }

    /// The headline figures, three to a row.
    private var figureRows: [[String: Any]] {
        let figures = digest.figures.map { ["label": Self.label(of: $0.metric), "value": Self.figure($0.value, metric: $0.metric)] }
        return stride(from: 0, to: figures.count, by: 3).map { ["figures": Array(figures[$0..<min($0 + 3, figures.count)])] }
    }

    var title: String {
        switch report.type {
        case .performance: "Performance report"
        case .cost: "Cost report"
        case .analytics: "Analytics report"
        case .summary: "Account summary"
        }
    }

    /// "1 Nov 2026 – 30 Nov 2026 (30 days)".
    var period: String {
        let days = digest.days.count
        return "\(Self.longDate(report.from)) – \(Self.longDate(report.to)) (\(days) \(days == 1 ? "day" : "days"))"
    }

    private var budgets: String? {
        var parts: [String] = []
        if let monthly = digest.monthlyBudget { parts.append(Self.dollars(monthly) + " a month") }
        if let daily = digest.dailyBudget { parts.append(Self.dollars(daily) + " a day") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    // MARK: Formatting

    static func longDate(_ day: String) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]) else { return day }
        return "\(parts[2]) \(months[parts[1] - 1]) \(parts[0])"
    }

    static func timestamp(_ date: Date, zone: String) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: zone) ?? .gmt
        formatter.dateFormat = "d MMM yyyy, HH:mm zzz"
        return formatter.string(from: date)
    }

    static func label(of metric: String) -> String {
        switch metric {
        case "videos_made": "Videos made"
        case "videos_published": "Videos published"
        case "spend": "Spend"
        case "revenue": "Revenue"
        case "return_on_cost": "Revenue per dollar spent"
        case "views": "Views"
        case "youtube_accounts": "YouTube accounts"
        case "quota_used_today": "Quota used today (units)"
        case "quota_limit_today": "Quota limit today (units)"
        default: metric.replacingOccurrences(of: "_", with: " ").capitalized
        }
    }

    static func figure(_ value: ReportValue, metric: String) -> String {
        if metric == "return_on_cost", case .number(let ratio) = value { return ratio.isFinite ? String(format: "%.2f×", ratio) : "—" }
        return display(value, style: .text)
    }

    /// A cell as a person reads it: grouped counts, dollars, percentages, a dash for nothing.
    static func display(_ value: ReportValue, style: ReportDigest.Style) -> String {
        switch value {
        case .text(let text): text
        case .integer(let number): ReportValue.grouped(number)
        case .money(let micros): dollars(micros)
        case .number(let number) where style == .percent: number.isFinite ? String(format: "%.1f%%", number * 100) : "—"
        case .number(let number): number.isFinite ? String(format: "%.2f", number) : "—"
        case .empty: "—"
        }
    }

    /// `$1,234.56`; amounts under a cent keep four decimals (`$0.0012`) so a cheap call is not $0.00.
    static func dollars(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let magnitude = micros.magnitude
        if magnitude > 0, magnitude < 10_000 {
            let hundredths = (magnitude + 50) / 100  // of a cent: 4 decimals
            return sign + "$0." + String(format: "%04d", Int(hundredths))
        }
        let cents = (magnitude + 5_000) / 10_000
        return sign + "$" + ReportValue.grouped(Int64(cents / 100)) + "." + String(format: "%02d", Int(cents % 100))
    }
}
