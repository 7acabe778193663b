package import Foundation
import Logging
import Metrics
import PostgresNIO
import Prometheus
import Queue

/// `GET /metrics`: the process's swift-metrics (request counts and durations by route
/// template and status, job counters) in Prometheus text, plus queue depth by queue and
/// state and the oldest available job's age, read from the database at scrape time.
struct MetricsEndpoint: Sendable {
    let registry: PrometheusCollectorRegistry
    let client: PostgresClient
    let logger: Logger

    /// Whether a scrape may read the metrics: always without a configured token, else only
    /// with `Authorization: Bearer <token>` (compared in constant time).
    static func authorized(_ authorization: String?, token: String?) -> Bool {
        guard let token else { return true }
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let given = Array(authorization.dropFirst("Bearer ".count).utf8), expected = Array(token.utf8)
        guard given.count == expected.count else { return false }
        return zip(given, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func render() async -> String {
        if let queues = try? await QueueStore(client: client, logger: logger).list() {
            for queue in queues {
                for state in JobState.allCases {
                    registry.makeGauge(name: "ytempire_queue_jobs", labels: [("queue", queue.name), ("state", state.rawValue)])
                        .set(to: Double(queue.count(state)))
                }
                registry.makeGauge(name: "ytempire_queue_oldest_available_seconds", labels: [("queue", queue.name)])
                    .set(to: queue.oldestAvailableAge)
                registry.makeGauge(name: "ytempire_queue_paused", labels: [("queue", queue.name)])
                    .set(to: queue.paused ? 1 : 0)
            }
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
