import ArgumentParser
import Foundation
import Queue

struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "List, pause, resume and run periodic jobs now.",
        subcommands: [List.self, Pause.self, Resume.self, Run.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Periodic jobs with their schedule, next and last run.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let logger = try global.makeLogger()
            let jobs = try await global.database().withClient { client in try await PeriodicJobStore(client: client, logger: logger).list() }
            let time = { (date: Date?) in date.map { $0.formatted(.iso8601) } ?? "-" }
            print(Table.render(
                header: ["id", "kind", "queue", "schedule", "catch_up", "paused", "next_run_at", "last_run_at", "last_job"],
                rows: jobs.map { job in
                    [job.id, job.kind, job.queue, job.schedule.description, job.catchUp ? "yes" : "no", job.paused ? "yes" : "no",
                     time(job.nextRunAt), time(job.lastRunAt), job.lastJobID.map(String.init) ?? "-"]
                }))
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop enqueueing a periodic job's runs (jobs already enqueued go on).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The periodic job's id.") var id: String

        func run() async throws {
            let logger = try global.makeLogger()
            let found = try await global.database().withClient { [id] client in
                try await PeriodicJobStore(client: client, logger: logger).setPaused(id: id, true)
            }
            guard found else { throw ValidationError("no periodic job \(id)") }
            print("paused \(id)")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enqueue a paused periodic job's runs again, from its next run after now.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The periodic job's id.") var id: String

        func run() async throws {
            let logger = try global.makeLogger()
            let found = try await global.database().withClient { [id] client in
                try await PeriodicJobStore(client: client, logger: logger).setPaused(id: id, false)
            }
            guard found else { throw ValidationError("no periodic job \(id)") }
            print("resumed \(id)")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enqueue a run of a periodic job now (its schedule is not moved).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The periodic job's id.") var id: String

        func run() async throws {
            let logger = try global.makeLogger()
            let job = try await global.database().withClient { [id] client in
                try await PeriodicJobStore(client: client, logger: logger).runNow(id: id)
            }
            guard let job else { throw ValidationError("no periodic job \(id)") }
            print("enqueued job \(job.id)")
        }
    }
}
