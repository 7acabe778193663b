import ArgumentParser
import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues", abstract: "List, pause, resume, drain and limit queues.",
        subcommands: [List.self, Pause.self, Resume.self, Drain.self, Limit.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queues with job counts per state and the oldest available job's age.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let logger = try global.makeLogger()
            let queues = try await global.database().withClient { client in try await QueueStore(client: client, logger: logger).list() }
            let states: [JobState] = [.available, .scheduled, .running, .retryable, .completed, .cancelled, .discarded]
            print(Table.render(
                header: ["queue", "paused", "limit"] + states.map(\.rawValue) + ["oldest_available_s"],
                rows: queues.map { queue in
                    [queue.name, queue.paused ? "yes" : "no", queue.concurrencyLimit.map(String.init) ?? "-"]
                        + states.map { String(queue.count($0)) } + [String(format: "%.1f", queue.oldestAvailableAge)]
                }))
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop every worker claiming from a queue (running jobs go on).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue.") var name: String

        func run() async throws {
            let logger = try global.makeLogger()
            try await global.database().withClient { [name] client in try await OperatorActions.commandLine(client, logger).pause(queue: name) }
            print("paused \(name)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let workers claim from a paused queue again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue.") var name: String

        func run() async throws {
            let logger = try global.makeLogger()
            try await global.database().withClient { [name] client in try await OperatorActions.commandLine(client, logger).resume(queue: name) }
            print("resumed \(name)")
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a queue and wait until its running jobs reach zero (resume it afterwards).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue.") var name: String

        func run() async throws {
            let logger = try global.makeLogger()
            try await global.database().withClient { [name] client in
                _ = try await OperatorActions.commandLine(client, logger).startDrain(queue: name)
                try await QueueStore(client: client, logger: logger).drain(name) { count in
                    print("\(name): \(count) running")
                }
            }
            print("drained \(name)")
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the most jobs of a queue running at once across all workers ('none' removes it).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue.") var name: String
        @Argument(help: "A number, or none.") var limit: String

        func run() async throws {
            let logger = try global.makeLogger()
            let value: Int?
            if limit == "none" { value = nil } else {
                guard let n = Int(limit), (1...100_000).contains(n) else {
                    throw ValidationError("limit must be a number from 1 to 100000 or 'none' (got '\(limit)')")
                }
                value = n
            }
            try await global.database().withClient { [name] client in
                try await OperatorActions.commandLine(client, logger).setLimit(queue: name, limit: value)
            }
            print("\(name): limit \(value.map(String.init) ?? "none")")
        }
    }
}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "Inspect, insert, cancel and retry jobs.",
        subcommands: [List.self, Show.self, Insert.self, Cancel.self, Retry.self, Discard.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Jobs, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this queue.") var queue: String?
        @Option(help: "Only this state.") var state: String?
        @Option(help: "Only this kind.") var kind: String?
        @Option(help: "At most this many.") var limit = 50

        func run() async throws {
            var parsedState: JobState?
            if let state {
                guard let value = JobState(rawValue: state) else {
                    throw ValidationError("--state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                parsedState = value
            }
            let logger = try global.makeLogger()
            let jobs = try await global.database().withClient { [queue, kind, limit, parsedState] client in
                try await JobStore(client: client, logger: logger).jobs(queue: queue, state: parsedState, kind: kind, limit: limit)
            }
            print(Table.render(header: ["id", "queue", "kind", "state", "attempt", "run_at", "worker"], rows: jobs.map {
                [String($0.id), $0.queue, $0.kind, $0.state.rawValue, "\($0.attempt)/\($0.maxAttempts)",
                 $0.runAt.formatted(.iso8601), $0.workerID ?? "-"]
            }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One job with its errors.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let logger = try global.makeLogger()
            guard let job = try await global.database().withClient({ [id] client in try await JobStore(client: client, logger: logger).job(id: id) }) else {
                throw CommandFailure("job \(id) not found")
            }
            print(JobPresenter.describe(job))
        }
    }

    struct Insert: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Insert a job (the diagnostic kinds noop, sleep and fail run on every worker).")
        @OptionGroup var global: GlobalOptions
        @Option(help: "The job kind.") var kind: String
        @Option(help: "Arguments as a JSON object.") var args = "{}"
        @Option(help: "The queue.") var queue = "default"
        @Option(help: "Priority, lower first.") var priority = 0
        @Option(help: "Attempts before the job is discarded.") var maxAttempts = 20
        @Option(help: "Run after this delay, e.g. 30s.") var delay: DurationArgument?
        @Option(help: "Idempotency key: a second insert returns the first job.") var uniqueKey: String?

        func run() async throws {
            let runAt = delay.map { Date().addingTimeInterval($0.duration.seconds) }
            let job = NewJob(kind: kind, args: args, queue: queue, priority: priority, maxAttempts: maxAttempts, runAt: runAt, uniqueKey: uniqueKey)
            let logger = try global.makeLogger()
            let result = try await global.database().withClient { client in try await JobStore(client: client, logger: logger).insert(job) }
            print(result.inserted ? "inserted job \(result.id)" : "job \(result.id) already exists with that unique key")
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job: at once when waiting, within a second when running.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let logger = try global.makeLogger()
            let job = try await global.database().withClient { [id] client in
                try await OperatorActions.commandLine(client, logger).cancel(job: id)
            }
            print(job.state == .running ? "job \(id) is running; its worker was asked to stop it" : "job \(id) cancelled")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a finished or waiting job again now.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let logger = try global.makeLogger()
            _ = try await global.database().withClient { [id] client in try await OperatorActions.commandLine(client, logger).retry(job: id) }
            print("job \(id) is available again")
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Give up on a waiting job: it never runs.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The job id.") var id: Int64

        func run() async throws {
            let logger = try global.makeLogger()
            _ = try await global.database().withClient { [id] client in try await OperatorActions.commandLine(client, logger).discard(job: id) }
            print("job \(id) discarded")
        }
    }
}

extension OperatorActions {
    /// The actions of whoever runs the command (their login, as the audit log records it).
    static func commandLine(_ client: PostgresClient, _ logger: Logger) -> OperatorActions {
        let environment = ProcessInfo.processInfo.environment
        let login = environment["SUDO_USER"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "unknown"
        return OperatorActions.fleet(actor: .commandLine(login: login), client: client, logger: logger)
    }
}

struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "Registered workers and their last heartbeat.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger()
        let workers = try await global.database().withClient { client in try await WorkerStore(client: client, logger: logger).list() }
        let now = Date()
        print(Table.render(header: ["id", "host", "pid", "queues", "started_at", "heartbeat_age_s"], rows: workers.map {
            [$0.id, $0.host, String($0.pid), $0.queues.joined(separator: ","), $0.startedAt.formatted(.iso8601),
             String(format: "%.1f", now.timeIntervalSince($0.heartbeatAt))]
        }))
    }
}
