@_exported import QueueTestSupport
import Domain
import Foundation
import Queue

/// Runs `body` with a fresh database holding the whole schema (a copy of the template
/// `ops/test` migrated once, `YTEMPIRE_TEST_TEMPLATE`, when there is one), closing it afterwards.
public func withDatabase<T: Sendable>(_ suite: String = #fileID, _ body: (TestDatabase) async throws -> T) async throws -> T {
    let db = try await TestDatabase.make(suite, migrations: try Migration.all(),
                                         template: ProcessInfo.processInfo.environment["YTEMPIRE_TEST_TEMPLATE"])
    defer { db.close() }
    return try await body(db)
}
