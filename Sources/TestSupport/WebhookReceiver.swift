import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A webhook receiver on loopback for tests. Paths choose its behaviour:
/// `/ok` answers 204; `/flaky` answers 500 to the first two attempts of each `webhook-id`,
/// then 200; `/down` always answers 503; `/gone` answers 410; `/slow` answers after
/// `slowDelay`; `/redirect?to=URL` answers 302 to `URL`; `/retry-inf` answers 200 with
/// `Retry-After: inf`, `/busy-forever` 429 with `Retry-After: 1e300`. Every request is
/// recorded.
public final class WebhookReceiver: Sendable {
    public struct Received: Sendable {
        public var path: String
        public var id: String
        public var timestamp: String
        public var signature: String
        public var body: String
        public var at: Date
    }

    public let slowDelay: Duration
    private let slowGate = Atomic<Bool>(false)
    private let state = Mutex((received: [Received](), inFlight: [String: Int](), overlapped: false))

    public init(slowDelay: Duration = .seconds(2)) { self.slowDelay = slowDelay }

    public var received: [Received] { state.withLock { $0.received } }

    /// Lets every `/slow` request held now or later answer at once.
    public func openSlowGate() { slowGate.store(true, ordering: .sequentiallyConsistent) }
    /// Whether two attempts of one `webhook-id` were ever in flight at once.
    public var overlapped: Bool { state.withLock { $0.overlapped } }

    public func received(path: String) -> [Received] { received.filter { $0.path == path } }

    /// Runs the receiver while `body` runs; `body` gets its base URL.
    /// - Parameter host: the loopback address to listen on (any of 127.0.0.0/8).
    public func run<T: Sendable>(host: String = "127.0.0.1", _ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        for path in ["/ok", "/flaky", "/down", "/gone", "/slow", "/redirect", "/retry-inf", "/busy-forever"] {
            router.post(RouterPath(path)) { request, _ in try await self.answer(request, path: path) }
            router.get(RouterPath(path)) { request, _ in try await self.answer(request, path: path) }
        }
        return try await withLoopbackServer(router, label: "webhook-receiver", host: host, body)
    }

    private func answer(_ request: Request, path: String) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let header = { (name: String) in request.headers[HTTPField.Name(name)!] ?? "" }
        let id = header("webhook-id")
        let seen = state.withLock { state -> Int in
            state.received.append(Received(path: path, id: id, timestamp: header("webhook-timestamp"), signature: header("webhook-signature"),
                                           body: String(buffer: body), at: Date()))
            state.inFlight[id, default: 0] += 1
            if state.inFlight[id, default: 0] > 1 { state.overlapped = true }
            return state.received.filter { $0.id == id }.count
        }
        defer { state.withLock { $0.inFlight[id, default: 1] -= 1 } }
        switch path {
        case "/flaky" where seen <= 2: return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "not yet")))
        case "/down": return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: String(repeating: "x", count: 5000))))
        case "/gone": return Response(status: .gone)
        case "/slow":
            let deadline = ContinuousClock.now + slowDelay
            while !slowGate.load(ordering: .sequentiallyConsistent), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        case "/redirect":
            let target = request.uri.queryParameters.get("to") ?? "/ok"
            return Response(status: .found, headers: [.location: target], body: .init(byteBuffer: ByteBuffer(string: "moved")))
        case "/retry-inf": return Response(status: .ok, headers: [.retryAfter: "inf"])
        case "/busy-forever": return Response(status: .tooManyRequests, headers: [.retryAfter: "1e300"])
        default: break
        }
        return Response(status: path == "/ok" ? .noContent : .ok)
    }
}
