import Foundation
import PostgresNIO

/// A job as stored in the `jobs` table.
public struct Job: Sendable, Equatable, Identifiable {
    public var id: Int64
    public var queue: String
    public var kind: String
    /// The job's arguments as JSON text.
    public var args: String
    public var state: JobState
    public var priority: Int
    /// How many times the job has started; 1 while its first attempt runs.
    public var attempt: Int
    public var maxAttempts: Int
    public var runAt: Date
    public var leaseUntil: Date?
    public var workerID: String?
    public var cancelRequestedAt: Date?
    public var uniqueKey: String?
    /// The recorded failures as JSON text; see `errors`.
    public var errorsJSON: String
    /// The recorded failures, oldest first (decoded on access: claims never pay for it).
    public var errors: [JobErrorEntry] { (try? JobErrorEntry.decodeList(errorsJSON)) ?? [] }
    public var createdAt: Date
    public var attemptedAt: Date?
    public var finishedAt: Date?

    /// Decodes the job's arguments.
    public func decodeArgs<Args: Decodable>(_ type: Args.Type = Args.self) throws -> Args {
        try JSONDecoder().decode(Args.self, from: Data(args.utf8))
    }

    /// The columns `init(row:)` decodes, by these names: every query that reads jobs selects these.
    static let columnList = """
        id, queue, kind, args::text AS args, state, priority::int4 AS priority, attempt, max_attempts, run_at, lease_until, \
        worker_id, cancel_requested_at, unique_key, errors::text AS errors, created_at, attempted_at, finished_at
        """

    /// Decodes a row selected with `Job.columnList`.
    init(row: PostgresRow) throws {
        let column = NamedRow(row)
        id = try column("id")
        queue = try column("queue")
        kind = try column("kind")
        args = try column("args")
        state = try DatabaseValue.decode(try column("state", as: String.self), column: "jobs.state")
        priority = Int(try column("priority", as: Int32.self))
        attempt = Int(try column("attempt", as: Int32.self))
        maxAttempts = Int(try column("max_attempts", as: Int32.self))
        runAt = try column("run_at")
        leaseUntil = try column("lease_until")
        workerID = try column("worker_id")
        cancelRequestedAt = try column("cancel_requested_at")
        uniqueKey = try column("unique_key")
        errorsJSON = try column("errors")
        createdAt = try column("created_at")
        attemptedAt = try column("attempted_at")
        finishedAt = try column("finished_at")
    }
}

extension JobErrorEntry {
    static func decodeList(_ json: String) throws -> [JobErrorEntry] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            return JobErrorEntry.parseTimestamp(text) ?? Date(timeIntervalSince1970: 0)
        }
        return try decoder.decode([JobErrorEntry].self, from: Data(json.utf8))
    }

    /// Postgres renders `timestamptz` in JSON as `2026-11-29T08:09:15.123456+00:00`.
    static func parseTimestamp(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        return ISO8601DateFormatter().date(from: text)
    }

    /// The entry as a JSON object for `errors || $1::jsonb`.
    var json: String {
        let object: [String: Any] = ["attempt": attempt, "at": ISO8601DateFormatter().string(from: at), "error": error]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// A job to insert.
public struct NewJob: Sendable, Equatable {
    public var kind: String
    /// The arguments as JSON text (an object).
    public var args: String
    public var queue: String
    public var priority: Int
    public var maxAttempts: Int
    /// When to run; `nil` means now (the database's clock).
    public var runAt: Date?
    /// A duplicate insert with the same key returns the existing job instead of a second one.
    public var uniqueKey: String?
    /// The states in which the job holds `uniqueKey` (River's unique states): once it leaves
    /// them, a new job may take the key. Nil: the key is held for as long as the row is kept.
    /// Must include every unfinished state.
    public var uniqueStates: Set<JobState>?
    /// Who the job works for (the domain's user id), so an owner's unfinished work can be found
    /// without reading arguments; the queue gives it no other meaning.
    public var owner: String?

    /// The states a job waits or runs in: unique "while unfinished".
    public static let unfinishedStates: Set<JobState> = [.available, .scheduled, .running, .retryable]

    /// - Parameters:
    ///   - kind: the handler that runs it.
    ///   - args: JSON object text.
    ///   - queue: default `default`.
    ///   - priority: lower runs first; default 0.
    ///   - maxAttempts: after this many failed attempts the job is discarded; default 20.
    ///   - runAt: not before this time; default now.
    ///   - uniqueKey: idempotency key; default none.
    ///   - uniqueStates: the states in which the key is held; default all (as long as the row is kept).
    ///   - owner: who the job works for; default none.
    public init(kind: String, args: String = "{}", queue: String = "default", priority: Int = 0,
                maxAttempts: Int = 20, runAt: Date? = nil, uniqueKey: String? = nil, uniqueStates: Set<JobState>? = nil,
                owner: String? = nil) {
        self.kind = kind
        self.args = args
        self.queue = queue
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.uniqueStates = uniqueStates
        self.owner = owner
    }

    /// A job whose arguments are encoded from a `Codable` value.
    public init<Args: Encodable>(kind: String, encoding args: Args, queue: String = "default", priority: Int = 0,
                                 maxAttempts: Int = 20, runAt: Date? = nil, uniqueKey: String? = nil, uniqueStates: Set<JobState>? = nil,
                                 owner: String? = nil) throws {
        let data = try JSONEncoder().encode(args)
        self.init(kind: kind, args: String(decoding: data, as: UTF8.self), queue: queue, priority: priority,
                  maxAttempts: maxAttempts, runAt: runAt, uniqueKey: uniqueKey, uniqueStates: uniqueStates, owner: owner)
    }

    /// Checks the fields the database would otherwise reject with a less helpful message.
    func validate() throws {
        guard !kind.isEmpty, kind.utf8.count <= 200 else {
            throw QueueError(.invalidJob, "job kind must be 1 to 200 characters")
        }
        guard QueueName.isValid(queue) else {
            throw QueueError(.invalidJob, "queue name '\(queue)' must be 1 to 64 letters, digits, '_', '-' or '.'")
        }
        guard (Int(Int16.min)...Int(Int16.max)).contains(priority) else {
            throw QueueError(.invalidJob, "priority must be between \(Int16.min) and \(Int16.max)")
        }
        guard maxAttempts >= 1, maxAttempts <= 1000 else {
            throw QueueError(.invalidJob, "max_attempts must be between 1 and 1000")
        }
        if let uniqueKey, uniqueKey.isEmpty || uniqueKey.utf8.count > 500 {
            throw QueueError(.invalidJob, "unique key must be 1 to 500 characters")
        }
        if let uniqueStates {
            guard uniqueKey != nil else { throw QueueError(.invalidJob, "unique states need a unique key") }
            // As in River: a job moving between unfinished states must never meet a holder it
            // did not conflict with at insert (a claim would fail on the unique index).
            guard uniqueStates.isSuperset(of: Self.unfinishedStates) else {
                throw QueueError(.invalidJob, "unique states must include available, scheduled, running and retryable")
            }
        }
        if let owner, owner.isEmpty || owner.utf8.count > 200 {
            throw QueueError(.invalidJob, "owner must be 1 to 200 characters")
        }
        // The database parses the JSON; this catches the common mistake cheaply on the hot path.
        let trimmed = args.utf8.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x09 || $0 == 0x0D }
        guard trimmed.first == UInt8(ascii: "{") else {
            throw QueueError(.invalidJob, "job args must be a JSON object")
        }
    }
}

/// What an insert returns for each job given, in the same order.
public struct InsertedJob: Sendable, Equatable {
    public var id: Int64
    /// False when a job with the same unique key already existed and was returned instead.
    public var inserted: Bool

    public init(id: Int64, inserted: Bool) {
        self.id = id
        self.inserted = inserted
    }
}

/// Queue names: short, printable, safe to show in metrics labels and NOTIFY payloads.
public enum QueueName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.unicodeScalars.allSatisfy { $0.properties.isAlphabetic && $0.isASCII || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0) }
    }
}
