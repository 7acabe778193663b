package import Foundation
import HTTPTypes
import Hummingbird

/// Which browser origins may call the API. Requests from other origins still reach the
/// server (CORS is the browser's rule); they just get no `Access-Control-Allow-Origin`.
public struct CORSPolicy: Sendable, Equatable {
    /// Exact origins, e.g. `https://app.example.com`.
    public var allowedOrigins: Set<String>

    public init(allowedOrigins: Set<String> = []) {
        self.allowedOrigins = allowedOrigins
    }

    /// Parses a comma-separated list, refusing anything that is not a scheme://host[:port] origin.
    public static func parse(_ list: String) throws -> CORSPolicy {
        var origins: Set<String> = []
        for raw in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !raw.isEmpty {
            guard let url = URL(string: raw), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                  url.path.isEmpty || url.path == "/", url.query == nil
            else { throw ConfigurationError("CORS origin '\(raw)' must look like https://app.example.com") }
            origins.insert(raw.hasSuffix("/") ? String(raw.dropLast()) : raw)
        }
        return CORSPolicy(allowedOrigins: origins)
    }
}

/// Answers preflight requests and adds the CORS headers for allowed origins.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let policy: CORSPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], policy.allowedOrigins.contains(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var headers = HTTPFields()
            headers[.accessControlAllowOrigin] = origin
            headers[.accessControlAllowMethods] = "GET, POST, PUT, DELETE, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, Idempotency-Key"
            headers[.accessControlMaxAge] = "600"
            headers[.vary] = "Origin"
            return Response(status: .noContent, headers: headers)
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlExposeHeaders] = "X-Request-ID, Retry-After, RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
        response.headers[.vary] = "Origin"
        return response
    }
}
