/// Durations as operators write them in flags and the environment: `250ms`, `5s`, `2m`,
/// `1h`, `7d`, or a bare number of seconds. Whatever the text, the result is a finite duration
/// between zero and ten years, or nil: no input can trap the conversion.
public enum DurationText {
    /// The longest duration accepted: ten years.
    public static let maximumSeconds: Double = 10 * 366 * 86_400

    /// Parses `text`; nil when it is not a non-negative number with an optional unit, or is
    /// longer than `maximumSeconds`.
    public static func parse(_ text: String) -> Duration? {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        var number = Substring(text)
        var scale = 1.0
        if let unit = units.first(where: { text.hasSuffix($0.suffix) }) {
            number = text.dropLast(unit.suffix.count)
            scale = unit.seconds
        }
        guard number.utf8.count <= 32, let value = Double(number), value.isFinite, value >= 0, value * scale <= maximumSeconds else {
            return nil
        }
        return .milliseconds(Int64(value * scale * 1000))
    }
}
