import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
}

/// Gives every request an id (`X-Request-ID` on the response, `request.id` in the logs),
/// turns every error below it into the envelope, and enforces the body limit.
///
/// It is the outermost middleware, so unknown routes, malformed bodies, oversized bodies
/// and unexpected errors all answer with the envelope and a 4xx (or a logged 500), never a
/// framework page.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let allowedMethods: AllowedMethods
    /// Who the client is behind the proxies the API trusts (rate limits key on it).
    var trustedProxies = TrustedProxies()

    /// Whether a body with this `Content-Type` may be decoded as JSON: one announced as JSON
    /// (`application/json`, `…+json`), and also one with no type, a wildcard or a type that
    /// does not parse, which the OpenAPI runtime reads as the operation's first (JSON) type.
    static func mayBeReadAsJSON(_ contentType: String?) -> Bool {
        guard let mediaType = contentType?.split(separator: ";").first.map({ String($0.filter { $0 != " " && $0 != "\t" }).lowercased() }) else {
            return true
        }
        let parts = mediaType.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !mediaType.contains("*") else { return true }
        return mediaType == "application/json" || mediaType.hasSuffix("+json")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.logger[metadataKey: "request.id"] = "\(context.requestID)"
        let requestID = context.requestID
        do {
            var request = request
            if let length = request.headers[.contentLength].flatMap(Int.init), length > context.maxUploadSize {
                throw APIError.payloadTooLarge
            }
            if request.method != .get && request.method != .head {
                let body = try await request.collectBody(upTo: context.maxUploadSize)
                if body.readableBytes > 0, Self.mayBeReadAsJSON(request.headers[.contentType]) {
                    do {
                        try StrictJSON.validate(Array(body.readableBytesView))
                    } catch {
                        throw APIError.validation("The body is not valid JSON: \(error.reason) (at byte \(error.offset))", issue: "malformed JSON")
                    }
                }
            }
            var response = try await RequestLog.$requestID.withValue(requestID) {
                let client = trustedProxies.client(peer: context.clientAddress, forwardedFor: request.headers[values: .xForwardedFor])
                return try await ClientAddress.$value.withValue(client) {
                    try await next(request, context)
                }
            }
            response.headers[.requestID] = requestID
            if response.headers[.contentType]?.lowercased().hasPrefix("text/html") == true {
                // Our pages (the OAuth confirmation, the API reference, the console) are never
                // framed by another site: a button under someone else's frame could be clicked
                // blindly. A page with a fuller policy of its own (the console) keeps it.
                response.headers[.xFrameOptions] = "DENY"
                if response.headers[.contentSecurityPolicy] == nil {
                    response.headers[.contentSecurityPolicy] = "frame-ancestors 'none'"
                }
            }
            return response
        } catch {
            var apiError = ErrorMapping.apiError(for: error)
            // A documented path called with a method it does not accept is a 405; a handler's own
            // 404 (no such id, or not the caller's) stays a 404.
            if apiError.status == .notFound, let allow = allowedMethods.methods(for: request.uri.path), !allow.isEmpty,
               !allow.contains(request.method.rawValue) {
                apiError = .methodNotAllowed(allow)
            }
            if apiError.status.kind == .serverError {
                context.logger.error("request failed", metadata: ["error": "\(ErrorMapping.loggable(error))"])
            }
            return apiError.response(requestID: requestID)
        }
    }
}

extension APIError {
    static let payloadTooLarge = APIError(.contentTooLarge, code: "payload_too_large",
                                          message: "Request body is larger than \(APIRequestContext.bodyLimit) bytes")
}

/// Puts the current request's id on every log line written while it is handled, by any
/// logger: bootstrap the logging system with `RequestLog.metadataProvider`.
public enum RequestLog {
    @TaskLocal static var requestID: String?

    /// Adds `request.id` to log lines written inside a request.
    public static let metadataProvider = Logger.MetadataProvider {
        requestID.map { ["request.id": .string($0)] } ?? [:]
    }
}
