package import Foundation
package import OpenAPIRuntime

/// Accepts RFC 3339 date-times with or without fractional seconds (the runtime's default
/// refuses fractions, which most clients send), and writes them with fractions.
struct LenientDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        Self.withFraction().string(from: date)
    }

    /// The dates a client may send: years 1 to 9999. The formatter reads years of any length,
    /// and a date hundreds of thousands of years away cannot be stored (binding it traps).
    static let acceptedRange = Date(timeIntervalSince1970: -62_135_596_800)...Date(timeIntervalSince1970: 253_402_300_799)

    func decode(_ string: String) throws -> Date {
        if string.utf8.count <= 64, let date = Self.withFraction().date(from: string) ?? ISO8601DateFormatter().date(from: string),
           Self.acceptedRange.contains(date) {
            return date
        }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Expected an RFC 3339 date-time between the years 1 and 9999"))
    }

    private static func withFraction() -> ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
