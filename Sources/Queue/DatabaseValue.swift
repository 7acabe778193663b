/// Reads a value stored as text into its enum. A value this build does not know (a newer
/// schema, a hand edit) is an error naming the value and its column, never silently taken
/// for another state (a job read as `discarded`, a video as `failed`).
public enum DatabaseValue {
    /// The enum case for `raw`, read from `column` (e.g. `jobs.state`).
    /// - Throws: `QueueError.unknownValue` naming the column and the value.
    public static func decode<Value: RawRepresentable>(_ raw: String, column: String, as type: Value.Type = Value.self) throws -> Value
    where Value.RawValue == String {
        guard let value = Value(rawValue: raw) else {
            throw QueueError(.unknownValue, "\(column) holds '\(raw.prefix(64))', which this build does not know: is the schema newer than the build?")
        }
        return value
    }
}
