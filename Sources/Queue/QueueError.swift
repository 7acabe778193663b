/// The one error type of the queue engine: a stable `code` plus the context that helps an
/// operator (the setting, job id or queue), and a description that never leaks row data.
public struct QueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, extensible without breaking callers that switch on known codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }

        /// A configuration value (database URL, queue spec, duration) is malformed.
        public static let invalidConfiguration = Code(raw: "invalid_configuration")
        /// The database schema is older than this build expects.
        public static let schemaOutdated = Code(raw: "schema_outdated")
        /// The database schema is newer than this build knows.
        public static let schemaTooNew = Code(raw: "schema_too_new")
        /// A job with the given id does not exist.
        public static let jobNotFound = Code(raw: "job_not_found")
        /// The job is in a state that does not allow the requested change.
        public static let invalidState = Code(raw: "invalid_state")
        /// A job was inserted with a kind no handler is registered for, or bad fields.
        public static let invalidJob = Code(raw: "invalid_job")
        /// A queue name is not known.
        public static let queueNotFound = Code(raw: "queue_not_found")
        /// The database could not be reached.
        public static let databaseUnavailable = Code(raw: "database_unavailable")
        /// A column holds a value this build has no case for (see `DatabaseValue`).
        public static let unknownValue = Code(raw: "unknown_value")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
