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
        // The same shapes as GET /admin/queues and GET /admin/activity answer.
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let queueList = Components.Schemas.AdminQueueList(queues: try await list.map { APIService.adminQueue($0, recent[$0.name]) })
        let series = try await history.map(APIService.adminMinute)
        let data: [String: Any] = [
            "queues": (try JSONSerialization.jsonObject(with: try encoder.encode(queueList)) as? [String: Any])?["queues"] ?? [],
            "series": try JSONSerialization.jsonObject(with: try encoder.encode(series)),
        ]
        return LiveMessage.text(type: "fleet.snapshot", data: data)
    }
}
