import Foundation
import Logging
import PostgresNIO
import Queue

/// A fresh, migrated database for one test suite on the server `ops/test` starts.
///
/// The server comes from `YTEMPIRE_TEST_DATABASE_URL` (an admin URL); each suite gets its
/// own database, so suites run in parallel without seeing each other's rows.
public final class TestDatabase: Sendable {
    public let url: DatabaseURL
    public let client: PostgresClient
    public let logger: Logger
    private let runner: Task<Void, Never>

    private init(url: DatabaseURL, client: PostgresClient, logger: Logger, runner: Task<Void, Never>) {
        self.url = url
        self.client = client
        self.logger = logger
        self.runner = runner
    }

    /// Creates a database named after the suite and migrates it with `migrations`. With a
    /// `template` (a database `ops/test` migrated once with the same migrations), the new
    /// database is a copy of it (`CREATE DATABASE … TEMPLATE`), much faster than migrating.
    public static func make(_ suite: String = #fileID, migrations: [Migration], template: String? = nil) async throws -> TestDatabase {
        guard let raw = ProcessInfo.processInfo.environment["YTEMPIRE_TEST_DATABASE_URL"] else {
            throw QueueError(.invalidConfiguration, "YTEMPIRE_TEST_DATABASE_URL is not set: run the tests with ops/test, which starts Postgres")
        }
        let admin = try DatabaseURL(raw)
        let slug = suite.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }.suffix(30)
        let name = "t_\(String(slug))_\(UInt32.random(in: 0...UInt32.max))"
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let template = template.flatMap { name in
            !name.isEmpty && name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) ? name : nil
        }
        try await withClient(admin) { client in
            if let template {
                try await client.query("CREATE DATABASE \(unescaped: name) TEMPLATE \(unescaped: template)", logger: logger)
            } else {
                try await client.query("CREATE DATABASE \(unescaped: name)", logger: logger)
            }
        }
        let url = admin.with(database: name)
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 20), backgroundLogger: logger)
        let runner = Task { await client.run() }
        let database = TestDatabase(url: url, client: client, logger: logger, runner: runner)
        let migrator = Migrator(client: client, migrations: migrations, logger: logger)
        // A copy of the template is current already; migrating checks that and applies nothing.
        try await migrator.migrate()
        return database
    }

    /// The URL as a string, for child processes.
    public var urlString: String {
        let auth = url.password.map { "\(url.user):\($0)" } ?? url.user
        let socket = url.socketDirectory.map { "?host=\($0)" } ?? ""
        return "postgres://\(auth)@\(url.host):\(url.port)/\(url.database)\(socket)"
    }

    /// Makes another client on this database (e.g. one per simulated process).
    public func makeClient(maximumConnections: Int = 5) -> PostgresClient {
        PostgresClient(configuration: url.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
    }

    /// Runs one statement and returns the first column of the first row as Int.
    public func scalar(_ query: PostgresQuery) async throws -> Int {
        let rows = try await client.query(query, logger: logger)
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return 0
    }

    /// Runs one statement and returns the first column of the first row as text; nil without
    /// a row or for NULL.
    public func text(_ query: PostgresQuery) async throws -> String? {
        let rows = try await client.query(query, logger: logger)
        for try await value in rows.decode(String?.self) { return value }
        return nil
    }

    /// Stops the client. (The database is dropped by the next `ops/test` run's fresh cluster.)
    public func close() {
        runner.cancel()
    }

    deinit { runner.cancel() }

    static func withClient(_ url: DatabaseURL, _ body: (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        try await body(client)
    }
}

/// Runs `body` with a copy of the whole schema `ops/test` migrated once (`YTEMPIRE_TEST_TEMPLATE`),
/// for tests that start the `ytempire` binary, which refuses a database missing any of its
/// migrations. The schema arrives as data: this module still links nothing of the domain.
public func withBinaryDatabase<T: Sendable>(_ suite: String = #fileID, _ body: (TestDatabase) async throws -> T) async throws -> T {
    guard let template = ProcessInfo.processInfo.environment["YTEMPIRE_TEST_TEMPLATE"], !template.isEmpty else {
        throw QueueError(.invalidConfiguration, "YTEMPIRE_TEST_TEMPLATE is not set: run the tests with ops/test, which migrates the template")
    }
    let db = try await TestDatabase.make(suite, migrations: try Migration.queue(), template: template)
    defer { db.close() }
    return try await body(db)
}

/// Runs `body` with a fresh database holding the queue's schema only, closing it afterwards:
/// the queue's own tests, which so prove the queue needs nothing of the domain.
public func withQueueDatabase<T: Sendable>(_ suite: String = #fileID, _ body: (TestDatabase) async throws -> T) async throws -> T {
    let db = try await TestDatabase.make(suite, migrations: try Migration.queue())
    defer { db.close() }
    return try await body(db)
}
