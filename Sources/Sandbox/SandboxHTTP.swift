import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The sandbox's request context: Hummingbird's basic context plus the connection, so a
/// fault can drop it mid-request the way a flaky network does.
public struct SandboxContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Google's error bodies: the Data API's `{"error": {code, message, errors: [{domain,
/// reason, message}], status}}` and OAuth's `{"error", "error_description"}`.
enum GoogleError {
    static func api(_ status: HTTPResponse.Status, reason: String, domain: String = "global", message: String) -> Response {
        let body: [String: Any] = ["error": [
            "code": status.code, "message": message, "status": statusName(status),
            "errors": [["message": message, "domain": domain, "reason": reason]],
        ]]
        return json(body, status: status)
    }

    static func oauth(_ error: String, _ description: String, status: HTTPResponse.Status = .badRequest) -> Response {
        json(["error": error, "error_description": description], status: status)
    }

    static func unauthenticated() -> Response {
        api(.unauthorized, reason: "authError", message: "Request had invalid authentication credentials. Expected OAuth 2 access token.")
    }

    static func statusName(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 503: "UNAVAILABLE"
        default: "INTERNAL"
        }
    }
}

func json(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    var fields = headers
    fields[.contentType] = "application/json; charset=UTF-8"
    return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Runs a sandbox on a free loopback port while `body` runs: `services` are made with a
/// handler that gets the bound port; `body` gets the base URL. The services stop by graceful
/// shutdown, never by cancellation: a connection accepted just as a cancelled server stops is
/// dropped unserved, and NIO traps on it (apple/swift-nio#2637).
func withLoopbackPort<T: Sendable>(_ services: (_ onReady: @escaping @Sendable (Int) async -> Void) -> [any Service],
                                   _ body: @Sendable (String) async throws -> T) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let logger = Logger(label: "sandbox", factory: { _ in SwiftLogNoOpLogHandler() })
    let group = ServiceGroup(configuration: .init(services: services { continuation.yield($0) }, logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask { try await group.run(); return nil }
        do {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result = try await body("http://127.0.0.1:\(port)")
            await group.triggerGracefulShutdown()
            while try await tasks.next() != nil {}
            return result
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}

/// `application/x-www-form-urlencoded` fields (OAuth token requests).
func formFields(_ buffer: ByteBuffer) -> [String: String] {
    Dictionary(formPairs(String(buffer: buffer)), uniquingKeysWith: { _, last in last })
}

/// Form-encoded pairs, decoded without trusting the text: split on `&` and the first `=`,
/// `+` read as a space, percent escapes decoded (a malformed escape leaves the text as it
/// came). Never traps, whatever the bytes — unlike `URLComponents.percentEncodedQuery`.
func formPairs(_ text: String) -> [(String, String)] {
    func decode(_ part: Substring) -> String {
        let spaced = part.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
    return text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
        guard let equals = pair.firstIndex(of: "=") else { return (decode(pair), "") }
        return (decode(pair[..<equals]), decode(pair[pair.index(after: equals)...]))
    }
}

extension Request {
    /// The bearer token of the `Authorization` header.
    var bearerToken: String? {
        guard let value = headers[.authorization], value.lowercased().hasPrefix("bearer ") else { return nil }
        return String(value.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
    }
}
