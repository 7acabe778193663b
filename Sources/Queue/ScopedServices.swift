import Logging
import ServiceLifecycle

/// Runs `services` in one `ServiceGroup` while `body` runs, then shuts them down gracefully
/// (in reverse order, as SIGTERM would) and waits for them. Benchmarks and tests use it to
/// run real workers and dispatchers for a bounded time.
public func withRunningServices<T: Sendable>(
    _ services: [any Service], logger: Logger, _ body: () async throws -> T
) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}
