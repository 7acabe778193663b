import Hummingbird
import Logging
import ServiceLifecycle

/// Serves `router` on a free loopback port while `body` runs; `body` gets the base URL
/// (`http://127.0.0.1:PORT`, or another address of 127.0.0.0/8 given as `host`). The
/// stand-ins of outside services use it.
///
/// The server stops by graceful shutdown, never by cancelling its task: a connection accepted
/// just as a cancelled server stops is dropped unserved, and NIO traps on it ("Deinited
/// NIOAsyncWriter without calling finish()", apple/swift-nio#2637).
func withLoopbackServer<T: Sendable, Context: RequestContext>(_ router: Router<Context>, label: String, host: String = "127.0.0.1",
                                                              _ body: @Sendable (String) async throws -> T) async throws -> T
where Context.Source == ApplicationRequestContextSource {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let logger = Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    let app = Application(router: router, configuration: .init(address: .hostname(host, port: 0)),
                          onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
    return try await withGracefullyStopped(app, logger: logger) {
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return try await body("http://\(host):\(port)")
    }
}

/// Runs `service` while `body` runs, then shuts it down gracefully (also when `body` throws)
/// and waits for it to end.
public func withGracefullyStopped<T: Sendable>(_ service: some Service, logger: Logger,
                                               _ body: @Sendable () async throws -> T) async throws -> T {
    let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask { try await group.run(); return nil }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            while try await tasks.next() != nil {}
            return result
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}
