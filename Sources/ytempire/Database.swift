import Foundation
import Logging
import PostgresNIO
import Queue

/// Opens the database named by `DATABASE_URL` (or `--database-url`) for one command.
struct Database {
    let url: DatabaseURL
    let logger: Logger

    /// Reads the URL from the flag or the environment, with a message that says how to set it.
    static func resolve(_ flag: String?, logger: Logger) throws -> Database {
        guard let raw = flag ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !raw.isEmpty else {
            throw CommandFailure("DATABASE_URL is not set: export it (ops/up writes one to .data/env) or pass --database-url")
        }
        return Database(url: try DatabaseURL(raw), logger: logger)
    }

    /// Makes a client; `relaxedDurability` turns off synchronous commit for the session,
    /// which workers use for claims and completions (at-least-once makes that safe).
    func makeClient(maximumConnections: Int = 20, relaxedDurability: Bool = false) -> PostgresClient {
        var configuration = url.clientConfiguration(maximumConnections: maximumConnections)
        if relaxedDurability {
            configuration.options.additionalStartupParameters = [("synchronous_commit", "off")]
        }
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` with a running client, turning connection failures into one clear line.
    func withClient<T: Sendable>(maximumConnections: Int = 4, _ body: @Sendable @escaping (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: quietLogger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            do {
                try await checkReachable(client)
                let value = try await body(client)
                return value
            } catch {
                throw CommandFailure.describing(error, url: url)
            }
        }
    }

    /// Fails fast with a readable error when the server cannot be reached.
    func checkReachable(_ client: PostgresClient) async throws {
        try await url.probe(logger: quietLogger)
    }

    /// The pool's own logger: connection retries are noise for a one-shot command, whose
    /// failure is reported once by `CommandFailure`.
    var quietLogger: Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        return quiet
    }
}

/// An error that ends a command with one line on stderr and exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }

    /// A readable line for any error a command may hit; never a stack trace or row data.
    static func describing(_ error: any Error, url: DatabaseURL) -> CommandFailure {
        if let failure = error as? CommandFailure { return failure }
        if let queueError = error as? QueueError { return CommandFailure(queueError.message) }
        if let psql = error as? PSQLError {
            if let server = psql.serverInfo, let message = server[.message] {
                return CommandFailure("database error: \(message)")
            }
            switch psql.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .unexpectedBackendMessage:
                let cause = psql.underlying.map { " (\($0))" } ?? ""
                return CommandFailure("cannot connect to the database at \(url.redacted)\(cause)")
            default:
                return CommandFailure("database error: \(psql.code)")
            }
        }
        return CommandFailure(String(describing: error))
    }
}
