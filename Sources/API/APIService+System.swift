package import Foundation
package import OpenAPIRuntime
import PostgresNIO
import Queue
import Domain

/// System: `GET /health` and `GET /status`; the root probes are in `APIServer+Probes.swift`.
extension APIService {
    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        let (healthy, body) = await healthReport()
        return healthy ? .ok(.init(body: .json(body))) : .serviceUnavailable(.init(body: .json(body)))
    }

    /// The database and the queue's schema, really checked: what `/health` (under the API's
    /// base path and at the root) and `/readyz` answer.
    func healthReport() async -> (healthy: Bool, body: Components.Schemas.Health) {
        var services: [String: String] = [:]
        let database = await check { try await client.query("SELECT 1", logger: logger) }
        services["database"] = database
        // The queue is healthy when its schema answers and is current.
        services["queue"] = database == "healthy"
            ? await check { try await Migrator(client: client, migrations: migrations, logger: logger).requireCurrent() }
            : "unhealthy: database unreachable"
        // The ML pipeline: the registry answers and the active models load (XGBoost included).
        if let models {
            services["ml_pipeline"] = database == "healthy"
                ? await check { for state in try await models.states() where state.active != nil { _ = try await models.models.model(state.description.id) } }
                : "unhealthy: database unreachable"
        }
        let healthy = services.values.allSatisfy { $0 == "healthy" }
        let body = Components.Schemas.Health(
            status: healthy ? .healthy : .unhealthy, version: version,
            services: .init(additionalProperties: services), uptime: uptimeSeconds)
        return (healthy, body)
    }

    func getStatus(_ input: Operations.GetStatus.Input) async throws -> Operations.GetStatus.Output {
        let queues: [QueueSummary]
        do {
            queues = try await QueueStore(client: client, logger: logger).list()
        } catch {
            logger.warning("status: database unreachable", metadata: ["error": "\(String(reflecting: error))"])
            return .serviceUnavailable(.init(body: .json(.init(error: "service_unavailable", message: "The database is unreachable"))))
        }
        // Workers (their hosts and pids) are the operators' to see, not the public's.
        let body = Components.Schemas.SystemStatus(
            version: version, uptime: uptimeSeconds,
            queues: queues.map { queue in
                .init(name: queue.name, paused: queue.paused, concurrencyLimit: queue.concurrencyLimit,
                      counts: .init(additionalProperties: Dictionary(uniqueKeysWithValues: queue.counts.map { ($0.key.rawValue, $0.value) })),
                      oldestAvailableSeconds: queue.oldestAvailableAge)
            },
            workers: nil)
        return .ok(.init(body: .json(body)))
    }

    /// Runs a probe with a 2-second limit: "healthy", or "unhealthy: reason".
    private func check(_ probe: @escaping @Sendable () async throws -> Void) async -> String {
        await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    try await probe()
                    return "healthy"
                } catch let error as QueueError {
                    return "unhealthy: \(error.message)"
                } catch {
                    return "unhealthy: unreachable"
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return "unhealthy: no answer within 2 s"
            }
            let first = await group.next() ?? "unhealthy"
            group.cancelAll()
            return first
        }
    }
}
