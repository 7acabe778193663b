package import Foundation
import Domain

/// Batch submissions (both spellings of the spec), their progress and cancellation.
extension APIService {
    func createBatch(_ input: Operations.CreateBatch.Input) async throws -> Operations.CreateBatch.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        return .accepted(.init(body: .json(try await submitBatch(body, idempotencyKey: input.headers.idempotencyKey))))
    }

    func createVideoBatch(_ input: Operations.CreateVideoBatch.Input) async throws -> Operations.CreateVideoBatch.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        return .accepted(.init(body: .json(try await submitBatch(body, idempotencyKey: input.headers.idempotencyKey))))
    }

    /// Validates every video (errors name `videos[i].field`), then submits them all in one
    /// transaction, or returns the earlier batch with the same idempotency key.
    func submitBatch(_ body: Components.Schemas.BatchRequest, idempotencyKey: String?) async throws -> Components.Schemas.BatchAccepted {
        let caller = try CurrentUser.require()
        guard (1...VideoSubmission.maximumBatch).contains(body.videos.count) else {
            throw APIError.validation("videos must have 1 to \(VideoSubmission.maximumBatch) entries", field: "videos", issue: "size")
        }
        let options = body.processingOptions
        if let limit = options?.costLimitPerVideo, !(limit.isFinite && (0...1000).contains(limit)) {
            throw APIError.validation("processing_options.cost_limit_per_video must be between 0 and 1000",
                                      field: "processing_options.cost_limit_per_video", issue: "out of range")
        }
        let defaults = try await userDefaults(caller.user.id)
        let requests = try body.videos.enumerated().map { index, video in
            try VideoRequest(channelID: video.channelId, title: video.title, description: video.description,
                             scriptStyle: video.scriptStyle?.rawValue, voiceID: video.voiceId, thumbnailStyle: video.thumbnailStyle?.rawValue,
                             durationTarget: video.durationTarget, keywords: video.keywords,
                             costLimit: video.costLimit ?? options?.costLimitPerVideo, qualityThreshold: video.qualityThreshold,
                             defaultCostLimit: defaults.defaultCostLimit, fieldPrefix: "videos[\(index)].")
        }
        let batch = try BatchOptions(parallel: options?.parallel ?? true, priority: options?.priority?.rawValue ?? "normal",
                                     idempotencyKey: idempotencyKey)
        let submitted = try await submission.submit(userID: caller.user.id, requests, batch: batch)
        let total = submitted.videos.reduce(Money.zero) { $0 + $1.estimatedCost }
        let seconds = submitted.replayed ? ProcessingEstimate.seconds(for: requests)
            : await completionSeconds(videoIDs: submitted.videos.map(\.videoID), requests: requests, priority: batch.queuePriority)
        return .init(batchId: submitted.batchID ?? "", status: .processing, total: submitted.videos.count,
                     videoIds: submitted.videos.map(\.videoID), estimatedCost: total.dollars,
                     estimatedCompletion: submitted.createdAt.addingTimeInterval(seconds),
                     replayed: submitted.replayed)
    }

    func getBatchStatus(_ input: Operations.GetBatchStatus.Input) async throws -> Operations.GetBatchStatus.Output {
        let caller = try CurrentUser.require()
        guard let status = try await control.batchStatus(id: input.path.batchId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(status.schema)))
    }

    func cancelBatch(_ input: Operations.CancelBatch.Input) async throws -> Operations.CancelBatch.Output {
        let caller = try CurrentUser.require()
        guard try await control.cancelBatch(id: input.path.batchId, userID: caller.user.id) != nil,
              let status = try await control.batchStatus(id: input.path.batchId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(status.schema)))
    }
}

extension BatchStatus {
    var schema: Components.Schemas.BatchProgress {
        let processing = counts["processing"] ?? 0
        let state: Components.Schemas.BatchProgress.StatusPayload =
            processing > 0 ? .processing : cancelledAt != nil ? .cancelled : .completed
        var eta: Date?
        if processing > 0 {
            // The videos still processing, at the rate the batch has managed so far.
            let done = max(1, total - processing)
            let elapsed = Date().timeIntervalSince(createdAt)
            eta = Date().addingTimeInterval(total == processing ? 30 + Double(processing) * 5 : elapsed / Double(done) * Double(processing))
        }
        return .init(batchId: id, status: state, total: total, counts: .init(additionalProperties: counts), progress: progress,
                     spent: spent.dollars, reserved: reserved.dollars, costLimitPerVideo: costLimitPerVideo.dollars, priority: priority,
                     parallel: parallel, estimatedCompletion: eta, createdAt: createdAt, completedAt: completedAt, cancelledAt: cancelledAt)
    }
}
