@testable import API
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Prometheus
import Queue
import TestSupport
import Testing

/// The application shell: system endpoints, the error envelope, request ids, the document.
@Suite struct SystemTests {
    func withApp(_ db: TestDatabase, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let router = try await APIServer.makeRouters(client: db.client, registry: PrometheusCollectorRegistry(), version: "test",
                                                    auth: TestAuth.configuration, rateLimits: TestAuth.generousLimits, logger: db.logger).http
        try await Application(router: router).test(.router, body)
    }

    /// The status `path` answers with.
    func status(_ client: any TestClientProtocol, _ path: String, headers: HTTPFields = [:]) async throws -> HTTPResponse.Status {
        try await client.execute(uri: path, method: .get, headers: headers) { $0.status }
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    @Test func healthChecksTheDatabaseAndTheQueue() async throws {
        try await withDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/api/v1/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try json(response.body)
                    #expect(body["status"] as? String == "healthy")
                    #expect(body["version"] as? String == "test")
                    #expect(body["services"] as? [String: String] == ["database": "healthy", "queue": "healthy"])
                    #expect(body["uptime"] is Int)
                    #expect(response.headers[.requestID]?.hasPrefix("req_") == true)
                }
            }
        }
    }

    @Test func healthAnswers503NamingTheDatabaseWhenItIsUnreachable() async throws {
        try await withDatabase { db in
            let unreachable = try DatabaseURL("postgres://postgres@127.0.0.1:1/none")
            let client = PostgresClient(configuration: unreachable.clientConfiguration(), backgroundLogger: db.logger)
            try await withRunningServices([client], logger: db.logger) {
                let router = try await APIServer.makeRouters(client: client, registry: PrometheusCollectorRegistry(), version: "test",
                                                            auth: TestAuth.configuration, logger: db.logger).http
                try await Application(router: router).test(.router) { client in
                    try await client.execute(uri: "/api/v1/health", method: .get) { response in
                        #expect(response.status == .serviceUnavailable)
                        let body = try json(response.body)
                        #expect(body["status"] as? String == "unhealthy")
                        let services = try #require(body["services"] as? [String: String])
                        #expect(services["database"]?.hasPrefix("unhealthy") == true)
                    }
                }
            }
        }
    }

    @Test func statusListsQueuesWithCountsButNoWorkers() async throws {
        try await withDatabase { db in
            let store = JobStore(client: db.client, logger: db.logger)
            try await store.insert([NewJob(kind: "noop", queue: "video"), NewJob(kind: "noop", queue: "video")])
            try await WorkerStore(client: db.client, logger: db.logger).register(id: "w1", host: "h", pid: 42, queues: ["video"])
            try await withApp(db) { client in
                try await client.execute(uri: "/api/v1/status", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try json(response.body)
                    let queues = try #require(body["queues"] as? [[String: Any]])
                    let video = try #require(queues.first { $0["name"] as? String == "video" })
                    #expect((video["counts"] as? [String: Int])?["available"] == 2)
                    // Worker hosts and pids are for operators, not the public.
                    #expect(body["workers"] == nil)
                    #expect(!String(buffer: response.body).contains("w1"))
                }
            }
        }
    }

    @Test func unknownRoutesAndMethodsGetTheEnvelope() async throws {
        try await withDatabase { db in
            try await withApp(db) { client in
                try await client.execute(uri: "/api/v1/no-such-thing", method: .get) { response in
                    #expect(response.status == .notFound)
                    let body = try json(response.body)
                    #expect(body["error"] as? String == "not_found")
                    #expect(body["message"] is String)
                    #expect(response.headers[.requestID] != nil)
                }
                try await client.execute(uri: "/api/v1/health", method: .delete) { response in
                    let body = try json(response.body)
                    #expect(response.status == .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET")
                    #expect(body["error"] as? String == "method_not_allowed")
                }
            }
        }
    }

    @Test func oversizedBodiesGet413WithTheEnvelope() async throws {
        try await withDatabase { db in
            try await withApp(db) { client in
                let big = ByteBuffer(repeating: UInt8(ascii: "a"), count: APIRequestContext.bodyLimit + 1)
                try await client.execute(uri: "/api/v1/health", method: .post, body: big) { response in
                    let body = try json(response.body)
                    #expect(response.status == .contentTooLarge)
                    #expect(body["error"] as? String == "payload_too_large")
                }
            }
        }
    }

    /// Load balancers and orchestrators probe at the root: `/health` as under the base path,
    /// `/livez` whatever the database does, `/readyz` only when the database is ready.
    @Test func probesAnswerAtTheRoot() async throws {
        try await withDatabase { db in
            try await withApp(db) { client in
                for path in ["/health", "/readyz"] {
                    try await client.execute(uri: path, method: .get) { response in
                        #expect(response.status == .ok, "\(path)")
                        let body = try json(response.body)
                        #expect(body["services"] as? [String: String] == ["database": "healthy", "queue": "healthy"])
                    }
                }
                try await client.execute(uri: "/livez", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
            let unreachable = try DatabaseURL("postgres://postgres@127.0.0.1:1/none")
            let down = PostgresClient(configuration: unreachable.clientConfiguration(), backgroundLogger: db.logger)
            try await withRunningServices([down], logger: db.logger) {
                let router = try await APIServer.makeRouters(client: down, registry: PrometheusCollectorRegistry(), version: "test",
                                                            auth: TestAuth.configuration, logger: db.logger).http
                try await Application(router: router).test(.router) { client in
                    let answers = [try await status(client, "/readyz"), try await status(client, "/health"), try await status(client, "/livez")]
                    #expect(answers == [.serviceUnavailable, .serviceUnavailable, .ok])
                }
            }
        }
    }

    @Test func metricsCanBeProtectedWithABearerToken() async throws {
        try await withDatabase { db in
            let router = try await APIServer.makeRouters(client: db.client, registry: PrometheusCollectorRegistry(), version: "test",
                                                        auth: TestAuth.configuration, metricsToken: "scrape-secret", logger: db.logger).http
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .unauthorized)
                    let body = try json(response.body)
                    #expect(body["error"] as? String == "unauthorized")
                }
                let wrong = try await status(client, "/metrics", headers: [.authorization: "Bearer wrong-secret!"])
                let right = try await status(client, "/metrics", headers: [.authorization: "Bearer scrape-secret"])
                #expect(wrong == .unauthorized && right == .ok)
            }
        }
    }

    /// Malformed JSON is a 400 `validation_error` on every operation that takes a body,
    /// whatever Foundation's decoder would tolerate (it accepts a trailing comma).
    @Test func malformedJSONIsRefusedByEveryOperationWithABody() async throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations: [(method: HTTPRequest.Method, path: String)] = []
        for (path, item) in paths {
            for (method, operation) in item {
                guard let operation = operation as? [String: Any], operation["requestBody"] != nil,
                      let verb = HTTPRequest.Method(method.uppercased()) else { continue }
                let concrete = path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x_1", options: .regularExpression)
                operations.append((verb, "/api/v1" + concrete))
            }
        }
        #expect(operations.count >= 20, "every operation with a body is tried")
        let tried = operations
        try await withDatabase { db in
            try await withApp(db) { client in
                // Announced as JSON, or with no type or a wildcard (which the runtime reads as JSON too).
                let types: [String?] = ["application/json", nil, "*/*", "json"]
                for (method, path) in tried {
                    for (index, body) in [#"{"a": 1,}"#, #"{"name": "x", }"#, #"[1, 2,]"#, #"{"a": 1} trailing"#].enumerated() {
                        var headers = HTTPFields()
                        headers[.contentType] = types[index % types.count]
                        try await client.execute(uri: path, method: method, headers: headers,
                                                 body: ByteBuffer(string: body)) { response in
                            #expect(response.status == .badRequest, "\(method) \(path) \(body)")
                            let envelope = try json(response.body)
                            #expect(envelope["error"] as? String == "validation_error", "\(method) \(path)")
                        }
                    }
                }
            }
        }
    }

    @Test func documentDocsAndMetricsAreServed() async throws {
        try await withDatabase { db in
            try await JobStore(client: db.client, logger: db.logger).insert(NewJob(kind: "noop", queue: "video"))
            try await withApp(db) { client in
                try await client.execute(uri: "/openapi.json", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try json(response.body)
                    #expect(body["openapi"] as? String == "3.1.0")
                    #expect((body["paths"] as? [String: Any])?["/health"] != nil)
                }
                try await client.execute(uri: "/docs", method: .get) { response in
                    #expect(response.status == .ok)
                    let html = String(buffer: response.body)
                    #expect(html.contains("/openapi.json"))
                    #expect(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere")
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.contains(#"ytempire_queue_jobs{queue="video",state="available"} 1"#))
                    #expect(text.contains("ytempire_queue_oldest_available_seconds"))
                }
            }
        }
    }
}

/// Every operation in the document answers the envelope's error statuses, so clients can
/// rely on them; and the generated code is as new as the yaml.
@Suite struct ContractTests {
    @Test func everyOperationDocumentsTheStandardErrors() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        #expect(!paths.isEmpty)
        for (path, item) in paths {
            for (method, raw) in item {
                let operation = try #require(raw as? [String: Any])
                let responses = try #require(operation["responses"] as? [String: Any])
                for status in ["400", "401", "404", "429", "500"] {
                    #expect(responses[status] != nil, "\(method.uppercased()) \(path) does not document \(status)")
                }
            }
        }
    }

    @Test func generatedCodeMatchesTheYaml() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let api = root.appendingPathComponent("Sources/API")
        let yaml = try Data(contentsOf: api.appendingPathComponent("openapi.yaml"))
        let config = try Data(contentsOf: api.appendingPathComponent("openapi-generator-config.yaml"))
        let recorded = try String(contentsOf: api.appendingPathComponent("Generated/openapi.sha256"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try sha256(yaml + config) == recorded, "openapi.yaml changed: run ops/generate-openapi and commit the result")
    }

    /// The digest `ops/generate-openapi` records, computed the same way (coreutils sha256sum).
    func sha256(_ data: Data) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(output.prefix { !$0.isWhitespace })
    }
}

extension ContractTests {
    @Test func publicOperationsMatchTheContract() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
        var open: Set<String> = []
        for item in paths.values {
            for operation in item.values {
                if let security = operation["security"] as? [Any], security.isEmpty, let id = operation["operationId"] as? String {
                    open.insert(id)
                }
            }
        }
        #expect(open == AuthMiddleware.publicOperations)
    }

    @Test func docsIsSwaggerUIFromThePackagesFilesAndServesNothingElseOfTheirDirectory() async throws {
        let directory = try #require(ProcessInfo.processInfo.environment["YTEMPIRE_DOCS_DIR"],
                                     "ops/test installs swagger-ui-py and names its files in YTEMPIRE_DOCS_DIR")
        let reference = try #require(APIReference(directory: directory), "Swagger UI's files in \(directory)")
        #expect(APIReference(directory: directory + "/no-such-directory") == nil, "without the files, the built-in page")
        let bundle = try #require(FileManager.default.contents(atPath: directory + "/swagger-ui-bundle.js"))
        try await withDatabase { db in
            try await withAPI(db, docs: reference) { api in
                try await api.client.execute(uri: "/docs", method: .get) { response in
                    let html = String(buffer: response.body)
                    #expect(response.status == .ok && html.contains("/docs/assets/swagger-ui-bundle.js") && html.contains("/docs/reference.js"))
                    #expect(!html.contains("http://") && !html.contains("https://"), "the page loads nothing from elsewhere")
                }
                try await api.client.execute(uri: "/docs/reference.js", method: .get) { response in
                    #expect(String(buffer: response.body).contains(#"url: "/openapi.json""#))
                }
                try await api.client.execute(uri: "/docs/assets/swagger-ui-bundle.js", method: .get) { response in
                    #expect(response.status == .ok && Data(buffer: response.body) == bundle, "the package's file as it is")
                    #expect(response.headers[.contentType]?.hasPrefix("application/javascript") == true)
                }
                // Only the files the page needs: not the rest of the directory, and no path.
                for uri in ["/docs/assets/index.css", "/docs/assets/LICENSE", "/docs/assets/..%2F..%2Fswagger_ui%2F__init__.py",
                            "/docs/assets/%2Fetc%2Fpasswd"] {
                    try await api.client.execute(uri: uri, method: .get) { response in
                        #expect(response.status == .notFound, "\(uri)")
                    }
                }
            }
        }
    }
}
