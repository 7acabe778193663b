import Foundation
import Logging
import PostgresNIO
import Queue

/// The operator role: granted and revoked from the command line only, each change in the
/// audit log. The API reads the flag with the caller's session on every request.
public struct Operators: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Makes the user with `email` an operator (or, `granted` false, no longer one).
    /// - Throws: `notFound` when no user has that email.
    public func set(email: String, granted: Bool, by actor: OperatorActor) async throws {
        let rows = try await client.query("""
            UPDATE users SET operator = \(granted), updated_at = now() WHERE lower(email) = lower(\(email)) RETURNING id
            """, logger: logger)
        var found: String?
        for try await id in rows.decode(String.self) { found = id }
        guard let found else { throw DomainError(.notFound, "No user has the email \(email)") }
        try await OperatorActions.fleet(actor: actor, client: client, logger: logger)
            .record(granted ? "operator.grant" : "operator.revoke", target: found, details: ["email": email], affected: 1)
    }
}

extension OperatorActions {
    /// The operator actions of this product: a video's jobs (its stages, its publication) are
    /// spared, since the video keeps its own state: it is cancelled as a video, and a failed
    /// video's stage job is retried through `PipelineStore.retryFailed` (the video runs again).
    public static func fleet(actor: OperatorActor, client: PostgresClient, logger: Logger) -> OperatorActions {
        OperatorActions(actor: actor, client: client, logger: logger, sparing: ["video."],
                        sparingAdvice: "a video's jobs follow their video; cancel the video (POST /videos/{id}/cancel, by its owner), "
                            + "and retry one job of a failed video to run the video again",
                        sparedRetry: FailedVideoRetry(pipeline: PipelineStore(client: client, logger: logger)))
    }
}

/// An operator's retry of a video's stage job: the failed video runs again from where it
/// stopped (`PipelineStore.retryFailed`); the job returned is the retried stage's new job, or
/// the first one enqueued.
struct FailedVideoRetry: SparedJobRetry {
    let pipeline: PipelineStore

    func retry(_ job: Job, audit: @Sendable (Int64, [String: String], PostgresConnection) async throws -> Void) async throws -> Int64 {
        guard PipelineStage(jobKind: job.kind) != nil, let args = try? job.decodeArgs(StageJobArgs.self) else {
            throw QueueError(.invalidState, "job \(job.id) is a \(job.kind) job: it follows its video's publication, which retries itself")
        }
        @Sendable func successor(_ enqueued: [PipelineStage: Int64]) -> Int64? {
            enqueued[args.stage] ?? PipelineStage.allCases.lazy.compactMap { enqueued[$0] }.first
        }
        let enqueued = try await pipeline.retryFailed(videoID: args.videoID) { enqueued, connection in
            // retryFailed enqueues at least one stage whenever it succeeds.
            guard let next = successor(enqueued) else { throw QueueError(.invalidState, "The video \(args.videoID) has no stage to run") }
            try await audit(next, ["video_id": args.videoID], connection)
        }
        guard let next = successor(enqueued) else { throw QueueError(.invalidState, "The video \(args.videoID) has no stage to run") }
        return next
    }
}
