import Foundation
import Logging
import PostgresNIO

/// A parsed `postgres://user:password@host:port/database?sslmode=…&host=/socket/dir` URL.
///
/// Processes are configured with one `DATABASE_URL`, as every Postgres tool is; this turns it
/// into a `PostgresClient.Configuration`, refusing anything it cannot honour with a message
/// that names the part that is wrong (and never echoes the password).
public struct DatabaseURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// A directory holding the server's Unix socket (`?host=/dir`), used instead of TCP.
    public var socketDirectory: String?
    /// `disable` (the default), `prefer` or `require`.
    public var sslMode: String

    public init(_ string: String) throws {
        guard let components = URLComponents(string: string),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw QueueError(.invalidConfiguration, "DATABASE_URL must look like postgres://user:password@host:5432/database")
        }
        user = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        let query = components.queryItems ?? []
        socketDirectory = query.first { $0.name == "host" }?.value.flatMap { $0.isEmpty ? nil : $0 }
        sslMode = query.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw QueueError(.invalidConfiguration, "DATABASE_URL sslmode must be disable, prefer or require (got '\(sslMode)')")
        }
        guard (1...65535).contains(port) else {
            throw QueueError(.invalidConfiguration, "DATABASE_URL port must be between 1 and 65535")
        }
    }

    /// The same server with another database name, e.g. for creating test databases.
    public func with(database: String) -> DatabaseURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// A client configuration for this URL.
    public func clientConfiguration(maximumConnections: Int = 20) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)",
                username: user, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case "require": tls = .require(.makeClientConfiguration())
            case "prefer": tls = .prefer(.makeClientConfiguration())
            default: tls = .disable
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// Opens one connection and closes it: a fast, precise answer (refused, unknown host,
    /// bad password) where a pool would keep retrying.
    public func probe(logger: Logger) async throws {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch sslMode {
            case "require": tls = .require(try .init(configuration: .makeClientConfiguration()))
            case "prefer": tls = .prefer(try .init(configuration: .makeClientConfiguration()))
            default: tls = .disable
            }
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(5)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        try await connection.close()
    }

    /// The URL without its password, for logs and messages.
    public var redacted: String {
        let location = socketDirectory.map { "socket \($0) port \(port)" } ?? "\(host):\(port)"
        return "\(user)@\(location)/\(database)"
    }
}
