import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// The video pipeline's stage handlers, registered on the queue engine: each stage reserves
/// its worst-case cost before a paid call, runs its provider, stores its artifact, and
/// records the result with its successors in one transaction.
public struct PipelineJobs: Sendable {
    public let plan: PipelinePlan
    public let providers: StageProviderSet
    public let videos: VideoRepository
    public let pipeline: PipelineStore
    public let logger: Logger

    public init(client: PostgresClient, plan: PipelinePlan, providers: StageProviderSet, logger: Logger) {
        self.plan = plan
        self.providers = providers
        self.videos = VideoRepository(client: client, logger: logger)
        self.pipeline = PipelineStore(client: client, logger: logger)
        self.logger = logger
    }

    /// The longest one attempt of each stage may take.
    public static let timeouts: [PipelineStage: Duration] = [
        .script: .seconds(300), .voice: .seconds(900), .thumbnail: .seconds(180), .assemble: .seconds(1800), .review: .seconds(300),
    ]

    /// Slots per stage queue for `ytempire worker` and `ytempire up` when none are given.
    public static let defaultQueues = "default=16,video_script=8,video_voice=4,video_thumbnail=4,video_assemble=2,video_review=8,video_publish=4,reports=2,ml=1"

    /// Registers a handler for every stage's job kind.
    public func register(into registry: inout JobRegistry) {
        for stage in PipelineStage.allCases {
            registry.register(stage.jobKind, timeout: Self.timeouts[stage]) { context in
                try await run(stage, context: context)
            }
        }
    }

    /// Runs one attempt of a stage.
    func run(_ stage: PipelineStage, context: JobContext) async throws -> JobResult {
        let args = try context.args(StageJobArgs.self)
        let job = context.job
        // What an earlier attempt of this video left held (it crashed, was rescued, or was
        // released at shutdown mid-call) is settled first.
        try await pipeline.ledger.settleAbandoned(videoID: args.videoID)
        guard let video = try await videos.videoForStage(id: args.videoID) else { return .cancel("the video was deleted") }
        guard video.status == .processing else { return .cancel("the video is \(video.status.rawValue)") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-\(job.id)-\(job.attempt)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let attempt = StageAttempt(args: args, video: video, jobID: job.id, attempt: job.attempt, workerID: context.workerID, scratch: scratch)
        do {
            switch stage {
            case .script: try await runScript(attempt)
            case .voice: try await runVoice(attempt)
            case .thumbnail: try await runThumbnail(attempt)
            case .assemble: try await runAssemble(attempt)
            case .review: try await runReview(attempt)
            }
            return .completedByHandler
        } catch let error as StageSuperseded {
            // Nothing was called; if the lease is gone the cancel writes nothing either.
            return .cancel(error.description)
        } catch let error as BudgetExhausted {
            try await pipeline.failVideo(args.videoID, userID: args.userID, code: error.code, message: error.description,
                                         completing: context.lease)
            return .completedByHandler
        } catch let error as PermanentProviderError {
            try await pipeline.ledger.release(jobID: job.id, attempt: job.attempt)
            try await pipeline.failVideo(args.videoID, userID: args.userID, code: "provider_error", message: error.description,
                                         completing: context.lease)
            return .completedByHandler
        } catch let error as ProviderBusyError {
            // Not billed; come back when the provider says, without spending an attempt.
            try await pipeline.ledger.release(jobID: job.id, attempt: job.attempt)
            context.logger.info("provider busy; snoozing", metadata: ["provider": "\(error.provider)", "retry_after": "\(error.retryAfter)"])
            return .snooze(error.retryAfter)
        } catch let error as UncertainProviderError {
            // The call may have been billed: its reservation becomes spend, and the next attempt
            // reserves afresh (so a retry can never spend more than the budget).
            try await pipeline.ledger.settleAssumed(jobID: job.id, attempt: job.attempt)
            if job.attempt >= job.maxAttempts {
                try await pipeline.failVideo(args.videoID, userID: args.userID, code: "provider_error", message: error.description,
                                             sparing: job.id)
            }
            throw error
        } catch is CancellationError {
            // Stopped mid-call (cancelled, timed out, shutting down): whether the call was
            // billed is unknown, so the reservation stays for `settleAbandoned`.
            throw CancellationError()
        } catch let error as StageLostError {
            throw error
        } catch {
            // The provider or tool failed: nothing was billed for a failed call.
            try await pipeline.ledger.release(jobID: job.id, attempt: job.attempt)
            if job.attempt >= job.maxAttempts {
                try await pipeline.failVideo(args.videoID, userID: args.userID, code: "stage_failed",
                                             message: "The \(stage.rawValue) stage failed \(job.attempt) times: \(String(describing: error).prefix(300))",
                                             sparing: job.id)
            }
            throw error
        }
    }
}

/// One attempt of one stage: the job, the video as it was read, a private scratch directory.
struct StageAttempt {
    var args: StageJobArgs
    var video: Video
    var jobID: Int64
    var attempt: Int
    var workerID: String
    var scratch: URL

    var stage: PipelineStage { args.stage }

    /// Where this generation's artifact of `kind` lives in storage.
    func storageKey(_ file: String) -> String { "videos/\(video.id)/g\(args.generation)/\(file)" }

    /// The budget not yet spent or held, as read at the start of the attempt (SQL re-checks).
    var available: Money { video.request.costLimit - video.spent - video.reserved }

    /// The claim this attempt runs under.
    var lease: JobLease { JobLease(jobID: jobID, attempt: attempt, workerID: workerID) }

    func outcome(charge: CostQuote, artifacts: [Artifact]) -> StageOutcome {
        StageOutcome(args: args, jobID: jobID, attempt: attempt, workerID: workerID, charge: charge, artifacts: artifacts)
    }
}

/// The attempt found its stage no longer its own before calling a provider: its lease ran
/// out and the job was claimed again, or another attempt already finished the stage.
struct StageSuperseded: Error, CustomStringConvertible {
    var stage: PipelineStage
    var description: String { "the \(stage.rawValue) stage is no longer this attempt's to run" }
}

/// No configured provider's worst case fits in what is left of the video's cost limit or of
/// the user's daily or monthly budget.
struct BudgetExhausted: Error, CustomStringConvertible {
    var stage: PipelineStage
    var available: Money
    var cheapest: Money?
    /// The last refusal: the video's limit or a user budget.
    var refusal: CostLedger.Reservation

    /// The video's error code: `budget_exceeded` when a user budget refused, else `cost_limit_exceeded`.
    var code: String { refusal.isBudget ? "budget_exceeded" : "cost_limit_exceeded" }

    var description: String {
        let need = cheapest.map { " needs at least \($0)" } ?? " has no priced provider"
        switch refusal {
        case .dailyBudget: return "The \(stage.rawValue) stage\(need) and today's budget has no room left for it"
        case .monthlyBudget: return "The \(stage.rawValue) stage\(need) and this month's budget has no room left for it"
        default: return "The \(stage.rawValue) stage\(need) and \(available) of the budget remains"
        }
    }
}
