import Domain
import Hummingbird
import Logging

/// The request context of every API route: Hummingbird's core storage plus the request id
/// that the response header, the logs and any error envelope share.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `req_` + random characters; set by `RequestIDMiddleware`.
    public var requestID: String
    /// The peer's IP address, when the connection has one (rate limits key on it).
    public var clientAddress: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        requestID = RequestID.make()
        clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Request bodies larger than this are refused with 413 and the error envelope.
    public var maxUploadSize: Int { APIRequestContext.bodyLimit }

    /// 1 MiB: generous for JSON (a 1,000-video batch is about 300 KiB).
    public static let bodyLimit = 1 << 20
}

/// Request ids: `req_` and 20 random URL-safe characters.
public enum RequestID {
    public static func make() -> String { PrefixedID.make("req_") }
}
