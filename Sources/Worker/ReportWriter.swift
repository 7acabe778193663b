import CSV
import Domain
import Foundation

/// Writes a report's rows to a file as they come, in bounded memory.
protocol ReportWriter {
    mutating func write(_ row: [ReportValue]) throws
    /// Flushes what is buffered and closes the file.
    mutating func finish() throws
}

/// RFC 4180 CSV (CRLF line ends, fields quoted when they must be) through CSV.swift, UTF-8,
/// with a header row. Text cells a spreadsheet would run as a formula (starting, after any
/// spaces, with `=`, `+`, `-`, `@`, their full-width forms, a tab or a line break) are
/// neutralised with a leading `'`, as OWASP advises; numbers are written as numbers.
struct CSVReportWriter: ReportWriter {
    private let file: FileHandle
    private var buffered: [[String]] = []
    private var first = true

    init(file: FileHandle, columns: [String]) throws {
        self.file = file
        try write(columns.map { ReportValue.text($0) })
    }

    /// Characters a spreadsheet may take as the start of a formula, also after leading spaces.
    static let formulaStarts = Set("=+-@\t\r\n＝＋－＠".unicodeScalars)

    static func cell(_ value: ReportValue) -> String {
        guard case .text(let text) = value,
              let first = text.unicodeScalars.first(where: { $0 != " " && $0 != "\u{3000}" }) ?? text.unicodeScalars.first,
              formulaStarts.contains(first) || text.unicodeScalars.first.map(formulaStarts.contains) == true
        else { return value.text }
        return "'" + text
    }

    mutating func write(_ row: [ReportValue]) throws {
        buffered.append(row.map(Self.cell))
        if buffered.count >= 1000 { try flush() }
    }

    /// CSV.swift writes to an in-memory stream a chunk at a time; the chunk goes to the file.
    private mutating func flush() throws {
        guard !buffered.isEmpty else { return }
        let stream = OutputStream.toMemory()
        let writer = try CSVWriter(stream: stream, delimiter: ",", newline: .crlf)
        for row in buffered { try writer.write(row: row) }
        writer.stream.close()
        guard let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data else {
            throw CocoaError(.fileWriteUnknown)
        }
        if !first { try file.write(contentsOf: Data("\r\n".utf8)) }
        first = false
        try file.write(contentsOf: data)
        buffered.removeAll(keepingCapacity: true)
    }

    mutating func finish() throws {
        try flush()
        try file.write(contentsOf: Data("\r\n".utf8))
        try file.close()
    }
}

/// JSON: `{"report": {id, type, format, date_from, date_to, channel_ids}, "columns": [...],
/// "rows": [{column: value, …}, …]}`; money in dollars, counts as integers, empty cells null.
struct JSONReportWriter: ReportWriter {
    private let file: FileHandle
    private let columns: [String]
    private var buffer = Data()
    private var count = 0

    init(file: FileHandle, report: Report, columns: [String]) throws {
        self.file = file
        self.columns = columns
        let header: [String: Any] = [
            "id": report.id, "type": report.type.rawValue, "format": report.format.rawValue, "date_from": report.from, "date_to": report.to,
            "channel_ids": report.channelIDs,
        ]
        buffer.append(Data(#"{"report":"#.utf8))
        buffer.append(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        buffer.append(Data(#","columns":"#.utf8))
        buffer.append(try JSONSerialization.data(withJSONObject: columns))
        buffer.append(Data(#","rows":["#.utf8))
    }

    static func json(_ value: ReportValue) -> Any {
        switch value {
        case .text(let text): text
        case .integer(let number): number
        case .number(let number): number.isFinite ? number : NSNull()
        case .money(let micros): Decimal(string: ReportValue.money(micros).text) ?? NSNull()
        case .empty: NSNull()
        }
    }

    mutating func write(_ row: [ReportValue]) throws {
        let object = Dictionary(zip(columns, row.map(Self.json)), uniquingKeysWith: { first, _ in first })
        if count > 0 { buffer.append(UInt8(ascii: ",")) }
        buffer.append(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        count += 1
        if buffer.count >= 1 << 20 {
            try file.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    mutating func finish() throws {
        buffer.append(Data("]}\n".utf8))
        try file.write(contentsOf: buffer)
        try file.close()
    }
}
