package import Foundation

/// The methods each documented path accepts, read from the OpenAPI document, so a request
/// with another method on a known path answers 405 with `Allow` instead of 404.
struct AllowedMethods: Sendable {
    private struct Route: Sendable {
        var segments: [String?]  // nil matches any one segment (a `{parameter}`)
        var methods: [String]
        var literalCount: Int { segments.count { $0 != nil } }
    }

    private let routes: [Route]

    /// Reads the paths of `document` (OpenAPI JSON) under `basePath`.
    init(document: String, basePath: String) {
        let json = (try? JSONSerialization.jsonObject(with: Data(document.utf8))) as? [String: Any]
        let paths = json?["paths"] as? [String: [String: Any]] ?? [:]
        let verbs = ["get", "put", "post", "delete", "patch", "head", "options"]
        routes = paths.map { path, item in
            let segments = (basePath + path).split(separator: "/").map { segment -> String? in
                segment.hasPrefix("{") && segment.hasSuffix("}") ? nil : String(segment)
            }
            return Route(segments: segments, methods: verbs.filter { item[$0] != nil }.map { $0.uppercased() })
        }
    }

    /// The methods `path` accepts, or nil when no documented path matches it. When several
    /// templates match (`/videos/batch` and `/videos/{video_id}`), the most literal one wins,
    /// as it does in the router.
    func methods(for path: String) -> [String]? {
        let parts = path.split(separator: "?", maxSplits: 1).first.map { $0.split(separator: "/") } ?? []
        let matching = routes.filter { route in
            route.segments.count == parts.count && zip(route.segments, parts).allSatisfy { $0 == nil || $0 == String($1) }
        }
        return matching.max { $0.literalCount < $1.literalCount }?.methods
    }
}
