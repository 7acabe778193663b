import Foundation
import Logging
import PostgresNIO
import Queue

/// Opens the database named by `DATABASE_URL` (or `--database-url`) for one command.
struct Database {
    let url: DatabaseURL
    /// Where the process's one LISTEN connection goes (`YTEMPIRE_LISTEN_DATABASE_URL`, default
    /// `url`): Postgres itself when `url` is a transaction pooler, which cannot keep a LISTEN.
    var listenURL: DatabaseURL
    let logger: Logger

    /// Reads the URL from the flag or the environment, with a message that says how to set it.
    static func resolve(_ flag: String?, logger: Logger) throws -> Database {
        let environment = ProcessInfo.processInfo.environment
        guard let raw = flag ?? environment["DATABASE_URL"], !raw.isEmpty else {
            throw CommandFailure("DATABASE_URL is not set: export it (ops/up writes one to .data/env) or pass --database-url")
        }
        let url = try DatabaseURL(raw)
        var listenURL = url
        if let listen = environment["YTEMPIRE_LISTEN_DATABASE_URL"], !listen.isEmpty {
            do { listenURL = try DatabaseURL(listen) } catch {
                throw CommandFailure("YTEMPIRE_LISTEN_DATABASE_URL: \(error)")
            }
        }
        return Database(url: url, listenURL: listenURL, logger: logger)
    }

    /// A pool of one connection for the process's `Notifier` (LISTEN), on `listenURL`.
    func makeListenClient() -> PostgresClient {
        PostgresClient(configuration: listenURL.clientConfiguration(maximumConnections: 1), backgroundLogger: logger)
    }

    /// Makes a client. It sets nothing on its sessions (no startup parameters), so it works
    /// through a transaction pooler (PgBouncer) as well as directly; the workers' claims and
    /// completions commit asynchronously statement by statement (`JobStore`).
    func makeClient(maximumConnections: Int = 20) -> PostgresClient {
        PostgresClient(configuration: url.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
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
