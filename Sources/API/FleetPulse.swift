package import Foundation
import Logging
import PostgresNIO
import Queue

/// What the console's live socket (`/ws/admin`) sends operators: every queue with its counts
/// and last five minutes, and the fleet's last hour minute by minute, as one `fleet.snapshot`
/// message. Computed at most once per `maxAge` on this instance, however many operators
/// watch: their sockets share the answer (the console keeps an action's answer on screen for
/// a moment, so a snapshot older than the action does not undo it).
actor FleetPulse {
    private let queues: QueueStore
    private let client: PostgresClient
    private let logger: Logger
    private let maxAge: Duration
    private var last: (at: ContinuousClock.Instant, text: String)?
    private var computing: Task<String, any Error>?

    init(client: PostgresClient, maxAge: Duration, logger: Logger) {
        self.queues = QueueStore(client: client, logger: logger)
        self.client = client
        self.maxAge = maxAge
        self.logger = logger
    }

    /// The latest snapshot, computed now if the last one is older than `maxAge`.
    func snapshot() async throws -> String {
        if let last, last.at.duration(to: .now) < maxAge { return last.text }
        if let computing { return try await computing.value }
        let task = Task { try await compute() }
        computing = task
        defer { computing = nil }
        let text = try await task.value
        last = (.now, text)
        return text
    }

    /// Whether `userID` is an operator now (a socket of a revoked operator is closed).
    func isOperator(_ userID: String) async throws -> Bool {
        let rows = try await client.query("SELECT operator FROM users WHERE id = \(userID)", logger: logger)
        for try await granted in rows.decode(Bool.self) { return granted }
        return false
    }

    private func compute() async throws -> String {
        async let list = queues.list()
        async let activity = queues.activity(minutes: 5)
        async let history = queues.history(minutes: 60)
        let recent = try await activity
        let queueObjects: [[String: Any]] = try await list.map { queue in
            var object: [String: Any] = [
                "name": queue.name, "paused": queue.paused, "running": queue.count(.running),
                "oldest_available_seconds": queue.oldestAvailableAge,
                "counts": Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, queue.count($0)) }),
                "completed_last_5m": recent[queue.name]?.completed ?? 0, "failed_last_5m": recent[queue.name]?.failed ?? 0,
            ]
            object["concurrency_limit"] = queue.concurrencyLimit ?? NSNull()
            return object
        }
        let series: [[String: Any]] = try await history.map { minute in
            [
                "at": minute.at.ISO8601Format(), "completed": minute.completed, "failed": minute.failed, "started": minute.started,
                "latency_p50_seconds": minute.latencyP50 ?? NSNull(), "latency_p95_seconds": minute.latencyP95 ?? NSNull(),
            ]
        }
        return LiveMessage.text(type: "fleet.snapshot", data: ["queues": queueObjects, "series": series])
    }
}
