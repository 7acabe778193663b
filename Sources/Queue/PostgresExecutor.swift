import Logging
import PostgresNIO

/// Something that runs a query: the pooled `PostgresClient`, or one `PostgresConnection`
/// inside a caller's transaction. Store functions take either, so a domain row and its job
/// can commit together.
public protocol PostgresExecutor: Sendable {
    /// Runs `query` and returns its rows.
    func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence
}

extension PostgresClient: PostgresExecutor {
    public func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await self.query(query, logger: logger)
    }
}

extension PostgresConnection: PostgresExecutor {
    public func run(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        try await self.query(query, logger: logger)
    }
}
