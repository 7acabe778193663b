import Logging
import PostgresNIO

extension PostgresClient {
    /// SQLSTATEs after which the whole transaction may simply run again: Postgres chose it as
    /// a deadlock's victim (`40P01`) or could not serialise it (`40001`). Its writes were
    /// rolled back, so running it again is safe.
    static let retryableStates: Set<String> = ["40P01", "40001"]

    /// True when `error` is a deadlock or serialisation failure.
    public static func isRetryable(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            return [error.closureError, error.commitError].contains { $0.map(isRetryable) ?? false }
        }
        guard let error = error as? PSQLError, let state = error.serverInfo?[.sqlState] else { return false }
        return retryableStates.contains(state)
    }

    /// Runs `body` in a transaction, and runs it again (up to `attempts` times in all, after a
    /// short jittered pause) when Postgres aborts it as a deadlock victim or for a
    /// serialisation failure, so a caller never sees those for a set-based update that raced
    /// the workers. `body` must do nothing outside the database that it cannot repeat.
    ///
    /// An error thrown by `body` reaches the caller as itself, not wrapped in PostgresNIO's
    /// `PostgresTransactionError`, so `catch let error as StageLostError` and the like match.
    public func withRetryingTransaction<Result>(
        logger: Logger, attempts: Int = 5, isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        var attempt = 1
        while true {
            do {
                return try await withTransaction(logger: logger, isolation: isolation, body)
            } catch {
                guard attempt < attempts, Self.isRetryable(error) else { throw Self.bodyError(of: error, logger: logger) }
                logger.info("transaction retried after a deadlock or serialisation failure", metadata: ["attempt": "\(attempt)"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 10...50) * attempt))
                attempt += 1
            }
        }
    }

    /// The error `body` threw, when the transaction failed because of it; a failed rollback
    /// is logged (the pool discards that connection) and the body's error still wins.
    static func bodyError(of error: any Error, logger: Logger) -> any Error {
        guard let error = error as? PostgresTransactionError, let thrown = error.closureError else { return error }
        if let rollback = error.rollbackError {
            logger.warning("rolling back a failed transaction failed too", metadata: ["error": "\(String(reflecting: rollback))"])
        }
        return thrown
    }
}
