package import Foundation
import HTTPTypes
package import OpenAPIRuntime

/// Sends the response headers whose syntax is their own (`ETag` is a quoted string,
/// `Content-Range` and `Content-Disposition` have spaces and slashes) as written: the OpenAPI
/// runtime writes header parameters in URI "simple" style, percent-encoding them, which no
/// HTTP client decodes. The values come from the handlers (never from the request) and carry
/// no `%` of their own.
struct HeaderTextMiddleware: ServerMiddleware {
    static let names: [HTTPField.Name] = [.eTag, .contentRange, .contentDisposition]

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = try await next(request, body, metadata)
        for name in Self.names {
            if let value = response.headerFields[name], value.contains("%"), let decoded = value.removingPercentEncoding {
                response.headerFields[name] = decoded
            }
        }
        return (response, body)
    }
}
