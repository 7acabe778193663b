import Hummingbird
import Logging

/// The request context of every API route: Hummingbird's core storage plus the request id
/// that the response header, the logs and any error envelope share.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `req_` + random characters; set by `RequestIDMiddleware`.
    public var requestID: String

    public init(source: Source) {
        coreContext = .init(source: source)
        requestID = RequestID.make()
    }

    /// Request bodies larger than this are refused with 413 and the error envelope.
    public var maxUploadSize: Int { APIRequestContext.bodyLimit }

    /// 1 MiB: generous for JSON (a 1,000-video batch is about 300 KiB).
    public static let bodyLimit = 1 << 20
}

/// Prefixed, unguessable identifiers (`req_…`).
public enum RequestID {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// A new id with the given prefix and 20 random URL-safe characters (~119 bits).
    public static func make(prefix: String = "req_") -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}
