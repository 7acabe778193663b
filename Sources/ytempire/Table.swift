import Foundation
import Queue

/// Plain aligned text tables for the operator commands.
enum Table {
    static func render(header: [String], rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

/// The text of `ytempire jobs show`.
enum JobPresenter {
    static func describe(_ job: Job) -> String {
        var lines = [
            "id:           \(job.id)",
            "queue:        \(job.queue)",
            "kind:         \(job.kind)",
            "state:        \(job.state.rawValue)",
            "attempt:      \(job.attempt) of \(job.maxAttempts)",
            "priority:     \(job.priority)",
            "run_at:       \(job.runAt.formatted(.iso8601))",
            "created_at:   \(job.createdAt.formatted(.iso8601))",
            "worker:       \(job.workerID ?? "-")",
            "unique_key:   \(job.uniqueKey ?? "-")",
            "args:         \(job.args)",
        ]
        if let cancel = job.cancelRequestedAt { lines.append("cancel_requested_at: \(cancel.formatted(.iso8601))") }
        if let finished = job.finishedAt { lines.append("finished_at:  \(finished.formatted(.iso8601))") }
        for error in job.errors {
            lines.append("error:        attempt \(error.attempt) at \(error.at.formatted(.iso8601)): \(error.error)")
        }
        return lines.joined(separator: "\n")
    }
}
