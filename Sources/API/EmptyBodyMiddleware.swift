import HTTPTypes
package import OpenAPIRuntime

/// Treats a request without a body (no `Content-Type`, no length or length 0) as having none,
/// so operations whose body is optional (`POST /videos/{id}/publish`, say) accept a bare POST
/// instead of failing to decode zero bytes as JSON.
struct EmptyBodyMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let fields = request.headerFields
        let empty = fields[.contentType] == nil && fields[.transferEncoding] == nil && (fields[.contentLength] ?? "0") == "0"
        return try await next(request, empty ? nil : body, metadata)
    }
}
