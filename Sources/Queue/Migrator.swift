import Foundation
import Logging
import PostgresNIO

/// One numbered, forward-only schema change.
public struct Migration: Sendable, Equatable {
    /// Global order. The queue owns 1–99; domain modules number theirs from 100.
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `NNNN_name.sql` files from a resource folder.
    public static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        return try files.filter { $0.pathExtension == "sql" }.map { url in
            let base = url.deletingPathExtension().lastPathComponent
            guard let number = base.split(separator: "_").first.flatMap({ Int($0) }) else {
                throw QueueError(.invalidConfiguration, "migration file \(url.lastPathComponent) must start with a number")
            }
            return Migration(version: number, name: base, sql: try String(contentsOf: url, encoding: .utf8))
        }.sorted { $0.version < $1.version }
    }

    /// The queue engine's own migrations, shipped as resources of this module.
    public static func queue() throws -> [Migration] {
        guard let url = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw QueueError(.invalidConfiguration, "the queue's migrations are missing from the installation")
        }
        return try load(from: url)
    }
}

/// Applies migrations under an advisory lock (so any number of processes may run
/// `ytempire migrate` at once) and tells processes whether the schema is current.
public struct Migrator: Sendable {
    public let client: PostgresClient
    public let migrations: [Migration]
    public let logger: Logger
    /// The advisory lock key that serialises migrators ("ytempire" in ASCII, truncated).
    static let lockKey: Int64 = AdvisoryLock.migrations.space

    public init(client: PostgresClient, migrations: [Migration], logger: Logger) {
        self.client = client
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies every pending migration, each in its own transaction. Each takes the migration
    /// lock for its transaction only (`pg_advisory_xact_lock`) and looks again at what is
    /// applied under it, so two processes migrating at once apply each migration once, and no
    /// lock outlives a transaction: migrations run as well through a transaction pooler
    /// (PgBouncer) as on a direct connection.
    /// - Returns: the versions applied by this call.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await client.withConnection { connection in
            // What is applied already needs no lock; only the rest is looked at again under it.
            let known = try await appliedVersions(connection, createTable: false)
            var done: [Int] = []
            for migration in migrations where !known.contains(migration.version) {
                let applied = try await connection.withTransaction(logger: logger) { tx -> Bool in
                    try await tx.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
                    guard try await !appliedVersions(tx, createTable: true).contains(migration.version) else { return false }
                    for statement in SQLScript.statements(in: migration.sql) {
                        try await tx.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await tx.query("""
                        INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))
                        """, logger: logger)
                    return true
                }
                if applied {
                    logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
                    done.append(migration.version)
                }
            }
            return done
        }
    }

    /// Migrations this build knows but the database lacks.
    public func pending() async throws -> [Migration] {
        let applied = try await client.withConnection { try await appliedVersions($0, createTable: false) }
        return migrations.filter { !applied.contains($0.version) }
    }

    /// Throws `schemaOutdated` with an instruction when migrations are pending; processes
    /// call it at start so they never run against an older schema.
    public func requireCurrent() async throws {
        let missing = try await pending()
        guard missing.isEmpty else {
            let names = missing.map(\.name).joined(separator: ", ")
            throw QueueError(.schemaOutdated, "the database schema is older than this build (missing \(names)): run `ytempire migrate` first")
        }
    }

    private func appliedVersions(_ connection: PostgresConnection, createTable: Bool) async throws -> Set<Int> {
        if createTable {
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
        } else {
            let rows = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
            for try await exists in rows.decode(Bool.self) where !exists { return [] }
        }
        let rows = try await connection.query("SELECT version FROM schema_migrations", logger: logger)
        var versions: Set<Int> = []
        for try await version in rows.decode(Int.self) { versions.insert(version) }
        return versions
    }
}
