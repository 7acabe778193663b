import Hummingbird
import Logging

/// Serves `router` on a free loopback port while `body` runs; `body` gets the base URL
/// (`http://127.0.0.1:PORT`, or another address of 127.0.0.0/8 given as `host`). The
/// stand-ins of outside services use it.
func withLoopbackServer<T: Sendable, Context: RequestContext>(_ router: Router<Context>, label: String, host: String = "127.0.0.1",
                                                              _ body: @Sendable (String) async throws -> T) async throws -> T
where Context.Source == ApplicationRequestContextSource {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(router: router, configuration: .init(address: .hostname(host, port: 0)),
                          onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
                          logger: Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() }))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await app.runService(); return nil }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        let result = try await body("http://\(host):\(port)")
        group.cancelAll()
        return result
    }
}
