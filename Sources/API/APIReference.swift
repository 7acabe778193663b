package import Foundation
import Hummingbird
import NIOCore

/// `GET /docs`: the API reference, Swagger UI over `/openapi.json`, from the files a package
/// ships (PyPI's `swagger-ui-py` has them in `swagger_ui/static`; `ops/up` and `ops/test`
/// install it) in a configured directory, `YTEMPIRE_DOCS_DIR`. Only the files the page needs
/// are read, once, at start; without them the project's own page (`DocsPage`) answers.
public struct APIReference: Sendable {
    /// The files served under `/docs/assets/`, and their types.
    static let assets: [String: String] = [
        "swagger-ui.css": "text/css; charset=utf-8",
        "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
        "swagger-ui-standalone-preset.js": "application/javascript; charset=utf-8",
        "favicon-32x32.png": "image/png",
    ]

    let files: [String: ByteBuffer]

    /// The reference from `directory`, or nil when it lacks any file the page needs.
    public init?(directory: String?) {
        guard let directory else { return nil }
        var files: [String: ByteBuffer] = [:]
        for name in Self.assets.keys {
            let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            files[name] = ByteBuffer(bytes: data)
        }
        self.files = files
    }

    /// Adds `/docs`, `/docs/reference.js` and `/docs/assets/{name}` to `router`.
    func add(to router: Router<some RequestContext>) {
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: Self.page)))
        }
        router.get("/docs/reference.js") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/javascript; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: Self.script)))
        }
        router.get("/docs/assets/:name") { _, context in
            // Only the names listed: nothing else in the directory, and no path, is reachable.
            guard let name = context.parameters.get("name"), let type = Self.assets[name], let file = files[name] else {
                throw HTTPError(.notFound)
            }
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"], body: .init(byteBuffer: file))
        }
    }

    static let page = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>YTEmpire API reference</title>
        <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
        <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
        </head>
        <body>
        <div id="reference"></div>
        <script src="/docs/assets/swagger-ui-bundle.js"></script>
        <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
        <script src="/docs/reference.js"></script>
        </body>
        </html>
        """#

    /// Swagger UI on our contract: grouped by tag, deep links, "Try it out" against this server.
    static let script = #"""
        window.ui = SwaggerUIBundle({
          url: "/openapi.json",
          dom_id: "#reference",
          deepLinking: true,
          docExpansion: "list",
          defaultModelsExpandDepth: 0,
          persistAuthorization: true,
          presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
          plugins: [SwaggerUIBundle.plugins.DownloadUrl],
          layout: "BaseLayout"
        });
        """#
}
