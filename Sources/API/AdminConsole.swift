import Console
package import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The operator console at `/admin`: pages rendered from the `Console` module's Mustache
/// templates (every value escaped), with the console's own script and style sheet. The pages
/// carry no data: the script signs in with the API's login and reads `/api/v1/admin/*` with
/// the access token, so a page is the same for everyone and the API decides who sees what.
struct AdminConsole: Sendable {
    /// A page of the console: its template, title and the path that shows it.
    struct Page: Sendable {
        var template: String
        var title: String
        var path: String
    }

    static let pages = [
        Page(template: "queues", title: "Queues", path: "/admin/queues"),
        Page(template: "jobs", title: "Jobs", path: "/admin/jobs"),
        Page(template: "fleet", title: "Fleet", path: "/admin/fleet"),
        Page(template: "audit", title: "Audit log", path: "/admin/audit"),
    ]

    /// What the pages allow: their own script and style only, the API and its socket on this
    /// origin, never a frame around them.
    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        .xContentTypeOptions: "nosniff",
        .consoleReferrerPolicy: "no-referrer",
        .cacheControl: "no-store",
    ]

    let files: ConsoleFiles
    /// The assets as the responses carry them.
    let assets: [String: (type: String, body: ByteBuffer)]

    init(files: ConsoleFiles) {
        self.files = files
        self.assets = files.assets.mapValues { ($0.type, ByteBuffer(bytes: $0.data)) }
    }

    /// The console from the `Console` module's files.
    static func load() async throws -> AdminConsole {
        AdminConsole(files: try await ConsoleFiles.load())
    }

    /// Adds the pages and their assets to `router`.
    func add(to router: Router<some RequestContext>) {
        let queues = Self.pages[0]
        router.get("/admin") { _, _ in try render(queues) }
        for page in Self.pages {
            router.get(RouterPath(page.path)) { _, _ in try render(page) }
        }
        router.get("/admin/jobs/:id") { _, context in
            // The page shows any job id the API knows; the id goes into the page escaped, and
            // only digits reach it.
            guard let id = context.parameters.get("id"), (1...19).contains(id.count), id.allSatisfy(\.isASCIIDigit) else {
                throw HTTPError(.notFound)
            }
            return try render(Page(template: "job", title: "Job \(id)", path: "/admin/jobs"), jobID: id)
        }
        router.get("/admin/assets/:name") { _, context in
            guard let name = context.parameters.get("name"), let asset = assets[name] else { throw HTTPError(.notFound) }
            return Response(status: .ok, headers: [.contentType: asset.type, .cacheControl: "public, max-age=86400", .xContentTypeOptions: "nosniff"],
                            body: .init(byteBuffer: asset.body))
        }
    }

    private func render(_ page: Page, jobID: String = "") throws -> Response {
        let context: [String: Any] = [
            "title": page.title, "page": page.template, "asset": files.version, "job_id": jobID,
            "nav": Self.pages.map { ["href": $0.path, "label": $0.title, "current": $0.path == page.path] },
        ]
        guard let html = files.templates.render(context, withTemplate: page.template) else { throw HTTPError(.internalServerError) }
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

extension HTTPField.Name {
    fileprivate static let consoleReferrerPolicy = HTTPField.Name("Referrer-Policy")!
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
