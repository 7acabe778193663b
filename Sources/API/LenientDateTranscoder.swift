package import Foundation
package import OpenAPIRuntime

/// Accepts RFC 3339 date-times with or without fractional seconds (the runtime's default
/// refuses fractions, which most clients send), and writes them with fractions.
struct LenientDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        Self.withFraction().string(from: date)
    }

    func decode(_ string: String) throws -> Date {
        if let date = Self.withFraction().date(from: string) ?? ISO8601DateFormatter().date(from: string) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an RFC 3339 date-time, got '\(string)'"))
    }

    private static func withFraction() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
