package import Foundation
import Domain

/// Video processing: one stage as a queue job for one asset (a script, a voice-over, a
/// thumbnail), with the same budget rules as a video. `wait` answers with the result when it
/// finishes in time, otherwise 202 and the task is followed like a video.
extension APIService {
    func processScript(_ input: Operations.ProcessScript.Input) async throws -> Operations.ProcessScript.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let request = try VideoRequest(channelID: body.channelId, title: body.title, description: body.description,
                                       scriptStyle: body.scriptStyle?.rawValue, voiceID: nil, thumbnailStyle: nil,
                                       durationTarget: body.durationTarget, keywords: body.keywords, costLimit: body.costLimit,
                                       qualityThreshold: 0, defaultCostLimit: try await userDefaults(caller.user.id).defaultCostLimit)
        let task = try await runTask(request, kind: .script, inputText: nil, wait: input.query.wait, userID: caller.user.id)
        return task.status == .processing ? .accepted(.init(body: .json(task))) : .ok(.init(body: .json(task)))
    }

    func processVoice(_ input: Operations.ProcessVoice.Input) async throws -> Operations.ProcessVoice.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let text = body.text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...20_000).contains(text.count) else {
            throw APIError.validation("text must be 1 to 20000 characters", field: "text", issue: "length")
        }
        // The spoken length follows from the text, for estimates and the budget check.
        let words = text.split(whereSeparator: \.isWhitespace).count
        let seconds = min(3600, max(10, Int((Double(words) / UsageModel.wordsPerSecond).rounded(.up))))
        let request = try VideoRequest(channelID: body.channelId, title: "Voice-over: " + String(text.prefix(80)), description: nil,
                                       scriptStyle: nil, voiceID: body.voiceId, thumbnailStyle: nil, durationTarget: seconds,
                                       keywords: nil, costLimit: body.costLimit, qualityThreshold: 0,
                                       defaultCostLimit: try await userDefaults(caller.user.id).defaultCostLimit)
        let task = try await runTask(request, kind: .voice, inputText: text, wait: input.query.wait, userID: caller.user.id)
        return task.status == .processing ? .accepted(.init(body: .json(task))) : .ok(.init(body: .json(task)))
    }

    func processThumbnail(_ input: Operations.ProcessThumbnail.Input) async throws -> Operations.ProcessThumbnail.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let request = try VideoRequest(channelID: body.channelId, title: body.title, description: nil, scriptStyle: nil, voiceID: nil,
                                       thumbnailStyle: body.thumbnailStyle?.rawValue, durationTarget: nil, keywords: nil,
                                       costLimit: body.costLimit, qualityThreshold: 0,
                                       defaultCostLimit: try await userDefaults(caller.user.id).defaultCostLimit)
        let task = try await runTask(request, kind: .thumbnail, inputText: nil, wait: input.query.wait, userID: caller.user.id)
        return task.status == .processing ? .accepted(.init(body: .json(task))) : .ok(.init(body: .json(task)))
    }

    /// Optimize: a completed video goes back through its weakest stage (by its quality parts)
    /// and what follows, within what is left of its budget; it stays completed whatever the new score.
    func optimizeVideo(_ input: Operations.OptimizeVideo.Input) async throws -> Operations.OptimizeVideo.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        guard let video = try await videos.video(id: body.videoId, userID: caller.user.id) else { throw APIError.notFound }
        guard video.kind == .video, video.status == .completed,
              let review = video.quality.flatMap({ try? JSONDecoder().decode(QualityReview.self, from: Data($0.utf8)) }) else {
            throw DomainError(.invalidState, "Only a completed, reviewed video can be optimized; this one is \(video.status.rawValue)", field: "video_id")
        }
        let stage = review.weakestStage
        let available = video.request.costLimit - video.spent - video.reserved
        guard submission.plan.affordable(stage, usage: { _ in UsageModel.expected(stage, request: video.request) }, available: available) != nil else {
            throw DomainError(.costLimitExceeded, "Redoing the \(stage.rawValue) stage needs more than the \(available) left of this video's budget",
                              field: "video_id")
        }
        guard try await control.pipeline.reopen(video.id, userID: caller.user.id, redoing: stage),
              let reopened = try await videos.video(id: video.id, userID: caller.user.id) else {
            throw DomainError(.invalidState, "The video changed while it was being optimized; try again", field: "video_id")
        }
        return .accepted(.init(body: .json(reopened.progressSchema)))
    }

    func getProcessingQueue(_ input: Operations.GetProcessingQueue.Input) async throws -> Operations.GetProcessingQueue.Output {
        let caller = try CurrentUser.require()
        let queue = try await videos.unfinishedWork(userID: caller.user.id)
        return .ok(.init(body: .json(.init(processing: queue.processing, stages: queue.stages.compactMap { entry in
            guard let stage = Components.Schemas.QueueEntry.StagePayload(rawValue: entry.stage.rawValue),
                  let state = Components.Schemas.QueueEntry.StatePayload(rawValue: entry.state) else { return nil }
            return .init(stage: stage, state: state, count: entry.count)
        }))))
    }

    /// Submits the task, waits up to `wait` seconds for it to finish, and describes it.
    func runTask(_ request: VideoRequest, kind: VideoKind, inputText: String?, wait: Int?, userID: String) async throws -> Components.Schemas.ProcessingTask {
        let wait = wait ?? 0
        guard (0...30).contains(wait) else { throw APIError.validation("wait must be between 0 and 30 seconds", field: "wait", issue: "out of range") }
        let submitted = try await submission.submitTask(userID: userID, request, kind: kind, inputText: inputText)
        guard let id = submitted.videos.first?.videoID else { throw APIError.notFound }
        let deadline = ContinuousClock.now + .seconds(wait)
        var video = try await videos.video(id: id, userID: userID)
        while let current = video, current.status == .processing, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            video = try await videos.video(id: id, userID: userID)
        }
        guard let video else { throw APIError.notFound }
        return try await taskSchema(video)
    }

    func taskSchema(_ video: Video) async throws -> Components.Schemas.ProcessingTask {
        let produced = video.artifacts.first { $0.kind.rawValue == (video.kind == .voice ? ArtifactKind.audio.rawValue : video.kind.rawValue) }
        var text: String?
        if video.kind == .script, video.status == .completed, let artifact = produced, let storage = artifacts {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-task-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: file) }
            try await storage.fetch(key: artifact.storageKey, to: file)
            text = try String(contentsOf: file, encoding: .utf8)
        }
        guard let kind = Components.Schemas.ProcessingTask.KindPayload(video.kind) else { throw APIError.notFound }
        let schema = video.schema
        return .init(taskId: video.id, kind: kind, status: .init(video.status),
                     estimatedCost: video.estimatedCost.dollars, actualCost: video.spent.dollars,
                     estimatedCompletion: video.progressSchema.estimatedCompletion, text: text,
                     artifact: schema.artifacts.first { $0.kind.rawValue == produced?.kind.rawValue },
                     error: video.errorSchema, statusUrl: "\(APIServer.basePath)/videos/\(video.id)/status")
    }
}
