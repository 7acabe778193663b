import ArgumentParser
import Foundation
import API
import Logging
import Queue
import Synchronization

@main
struct YTEmpire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ytempire",
        abstract: "YTEmpire Fleet: the API, workers and dispatcher of a Postgres job-queue fleet.",
        subcommands: [
            UpCommand.self, APICommand.self, WorkerCommand.self, DispatcherCommand.self, MigrateCommand.self,
            QueuesCommand.self, SchedulesCommand.self, JobsCommand.self, WorkersCommand.self, UsersCommand.self, ModelsCommand.self, SandboxCommand.self, BenchCommand.self,
        ]
    )
}

/// Options every command that touches the database shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Postgres URL (default: $DATABASE_URL).")
    var databaseURL: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default: $LOG_LEVEL or info).")
    var logLevel: String?

    func makeLogger(_ label: String = "ytempire") throws -> Logger {
        LoggingBootstrap.once()
        let raw = logLevel ?? ProcessInfo.processInfo.environment["LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical (got '\(raw)')")
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }

    func database() throws -> Database {
        try Database.resolve(databaseURL, logger: try makeLogger())
    }
}

/// A duration flag: `250ms`, `5s`, `2m`, `1h` (a bare number is seconds).
struct DurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    init?(argument: String) {
        guard let duration = DurationText.parse(argument) else { return nil }
        self.duration = duration
    }

    init(_ duration: Duration) { self.duration = duration }

    var defaultValueDescription: String { "\(duration)" }
}

/// Logs go to stderr, each line carrying the request id when written inside a request.
enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once() {
        done.withLock { done in
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap({ label, provider in StreamLogHandler.standardError(label: label, metadataProvider: provider) },
                                    metadataProvider: RequestLog.metadataProvider)
        }
    }
}
