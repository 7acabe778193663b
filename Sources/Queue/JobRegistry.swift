import Foundation
import Logging

/// What a handler tells the worker when it returns.
public enum JobResult: Sendable, Equatable {
    /// Done; the worker completes the job (batched with others).
    case completed
    /// Run again after this delay, without spending an attempt.
    case snooze(Duration)
    /// Stop for good with this reason; the job becomes `cancelled`.
    case cancel(String)
    /// The handler already completed the job in its own transaction
    /// (`JobStore.complete(_:on:)` with `JobContext.lease`), so the worker writes nothing.
    case completedByHandler
}

/// What a handler gets besides its arguments.
public struct JobContext: Sendable {
    public let job: Job
    public let workerID: String
    public let store: JobStore
    let workerLogger: Logger

    /// The claim this attempt runs under: what a handler's own completion must name.
    public var lease: JobLease { job.lease(workerID: workerID) }

    /// The worker's logger with the job's id and kind as metadata (built on first use: most
    /// jobs never log).
    public var logger: Logger { Self.logger(for: job, base: workerLogger) }

    static func logger(for job: Job, base: Logger) -> Logger {
        var logger = base
        logger[metadataKey: "job.id"] = "\(job.id)"
        logger[metadataKey: "job.kind"] = "\(job.kind)"
        return logger
    }

    /// Decodes the job's arguments.
    public func args<Args: Decodable>(_ type: Args.Type = Args.self) throws -> Args {
        try job.decodeArgs(type)
    }
}

/// The handlers a worker can run, by job kind, each with its own timeout.
public struct JobRegistry: Sendable {
    /// One registered kind.
    public struct Entry: Sendable {
        public var kind: String
        /// The most one attempt may take before it is stopped and counted as failed; nil for none.
        public var timeout: Duration?
        public var handler: @Sendable (JobContext) async throws -> JobResult
    }

    public private(set) var entries: [String: Entry] = [:]

    public init() {}

    /// Registers the handler for `kind`, replacing any earlier one.
    /// - Parameter timeout: per-attempt limit for this kind; nil for none.
    public mutating func register(_ kind: String, timeout: Duration? = nil,
                                  handler: @escaping @Sendable (JobContext) async throws -> JobResult) {
        entries[kind] = Entry(kind: kind, timeout: timeout, handler: handler)
    }

    public func entry(for kind: String) -> Entry? { entries[kind] }
}

/// Job kinds every worker understands, for smoke tests, benchmarks and operators:
/// `noop`, `sleep` (`{"ms": 100}`, honours cancellation) and `fail` (`{"message": "…"}`).
public enum DiagnosticJobs {
    struct SleepArgs: Decodable { var ms: Int }
    struct FailArgs: Decodable { var message: String? }

    /// A job failed on purpose by the `fail` kind.
    public struct RequestedFailure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func register(into registry: inout JobRegistry) {
        registry.register("noop") { _ in .completed }
        registry.register("sleep") { context in
            let args = try context.args(SleepArgs.self)
            try await Task.sleep(for: .milliseconds(max(0, args.ms)))
            return .completed
        }
        registry.register("fail") { context in
            let args = try context.args(FailArgs.self)
            throw RequestedFailure(description: args.message ?? "failed on request")
        }
    }
}
