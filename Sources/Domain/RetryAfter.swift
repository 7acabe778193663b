import Foundation

/// The HTTP `Retry-After` header, read from answers we do not control (webhook receivers,
/// providers): whatever it says, the wait is a finite duration between zero and `maximum`.
public enum RetryAfter {
    /// The longest wait a `Retry-After` can ask for; longer ones are cut to it.
    public static let maximum: Duration = .seconds(86_400)

    /// Seconds (`120`, `1.5`) or an HTTP date, clamped to `0...maximum`; nil when it is
    /// neither, or not a finite non-negative number (`inf`, `nan`, `-1`).
    public static func parse(_ value: String) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if let seconds = Double(text) {
            return seconds.isFinite && seconds >= 0 ? clamp(seconds: seconds) : nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return clamp(seconds: date.timeIntervalSinceNow)
    }

    /// A wait of `seconds`, as a duration in `0...maximum` (non-finite and negative become 0,
    /// except +infinity, which is the maximum).
    public static func clamp(seconds: Double) -> Duration {
        guard !seconds.isNaN, seconds > 0 else { return .zero }
        let capped = min(seconds, Double(maximum.components.seconds))
        return .milliseconds(Int64(capped * 1000))
    }
}
