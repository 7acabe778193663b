package import Foundation
import Domain
package import OpenAPIRuntime

/// Video generation and the caller's videos: submit, list, read, change, cancel, delete, download.
extension APIService {
    func generateVideo(_ input: Operations.GenerateVideo.Input) async throws -> Operations.GenerateVideo.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let defaults = try await userDefaults(caller.user.id)
        let request = try VideoRequest(channelID: body.channelId, title: body.title, description: body.description,
                                       scriptStyle: body.scriptStyle?.rawValue, voiceID: body.voiceId, thumbnailStyle: body.thumbnailStyle?.rawValue,
                                       durationTarget: body.durationTarget, keywords: body.keywords, costLimit: body.costLimit,
                                       qualityThreshold: body.qualityThreshold, defaultCostLimit: defaults.defaultCostLimit)
        let submitted = try await submission.submit(userID: caller.user.id, request)
        guard let video = submitted.videos.first else { throw APIError(.internalServerError, code: "internal_error", message: "Nothing was submitted") }
        let seconds = await completionSeconds(videoIDs: [video.videoID], requests: [request], priority: 2)
        return .accepted(.init(body: .json(.init(
            videoId: video.videoID, status: .processing, estimatedCompletion: Date().addingTimeInterval(seconds),
            estimatedCost: video.estimatedCost.dollars, websocketChannel: LiveRoutes.videoChannelPrefix + video.videoID))))
    }

    func listVideos(_ input: Operations.ListVideos.Input) async throws -> Operations.ListVideos.Output {
        let caller = try CurrentUser.require()
        let pagination = try Pagination(page: input.query.page, limit: input.query.limit)
        let filter = VideoRepository.ListFilter(channelID: input.query.channelId, status: input.query.status.flatMap { VideoStatus(rawValue: $0.rawValue) },
                                                from: input.query.dateFrom, to: input.query.dateTo)
        try InputLimits.check(input.query.channelId, max: 64, field: "channel_id")
        let (found, total) = try await videos.list(userID: caller.user.id, filter: filter, offset: pagination.offset, limit: pagination.limit)
        return .ok(.init(body: .json(.init(videos: found.map(\.schema), total: total, page: pagination.page,
                                           pages: pagination.pages(total: total)))))
    }

    func getVideo(_ input: Operations.GetVideo.Input) async throws -> Operations.GetVideo.Output {
        let caller = try CurrentUser.require()
        guard let video = try await videos.video(id: input.path.videoId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(video.schema)))
    }

    func updateVideo(_ input: Operations.UpdateVideo.Input) async throws -> Operations.UpdateVideo.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        guard let video = try await videos.updateMetadata(id: input.path.videoId, userID: caller.user.id, title: body.title,
                                                          description: body.description, tags: body.tags) else { throw APIError.notFound }
        return .ok(.init(body: .json(video.schema)))
    }

    func deleteVideo(_ input: Operations.DeleteVideo.Input) async throws -> Operations.DeleteVideo.Output {
        let caller = try CurrentUser.require()
        guard let keys = try await control.deleteVideo(id: input.path.videoId, userID: caller.user.id) else { throw APIError.notFound }
        try? await artifacts?.delete(keys: keys)
        return .ok(.init(body: .json(.init(message: "The video was deleted"))))
    }

    func getVideoStatus(_ input: Operations.GetVideoStatus.Input) async throws -> Operations.GetVideoStatus.Output {
        let caller = try CurrentUser.require()
        guard let video = try await videos.video(id: input.path.videoId, userID: caller.user.id) else { throw APIError.notFound }
        var progress = video.progressSchema
        // The estimate kept at submission (the ETA model's, or its baseline's), when there is one.
        if video.status == .processing, let total = try? await models?.storedCompletion(videoID: video.id) {
            progress.estimatedCompletion = max(video.createdAt.addingTimeInterval(total),
                                               Date().addingTimeInterval(total * Double(100 - video.progress) / 100))
        }
        return .ok(.init(body: .json(progress)))
    }

    /// Seconds until a submission's videos are done: the ETA model or its baseline (kept for
    /// the live error and the status ETA), else the fixed formula; the longest of its videos.
    func completionSeconds(videoIDs: [String], requests: [VideoRequest], priority: Int) async -> TimeInterval {
        let formula = ProcessingEstimate.seconds(for: requests)
        guard let models else { return formula }
        do {
            guard let (version, estimates) = try await models.completion(durationTargets: requests.map(\.durationTarget), priority: priority, submitted: videoIDs)
            else { return formula }
            try await models.recordCompletion(videoIDs: videoIDs, version: version, estimates: estimates)
            return estimates.map(\.value).max() ?? formula
        } catch {
            logger.warning("the completion estimate failed; the formula is used", metadata: ["error": "\(error)"])
            return formula
        }
    }

    func cancelVideo(_ input: Operations.CancelVideo.Input) async throws -> Operations.CancelVideo.Output {
        let caller = try CurrentUser.require()
        guard try await control.cancelVideo(id: input.path.videoId, userID: caller.user.id),
              let video = try await videos.video(id: input.path.videoId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(video.progressSchema)))
    }

    func downloadArtifact(_ input: Operations.DownloadArtifact.Input) async throws -> Operations.DownloadArtifact.Output {
        let caller = try CurrentUser.require()
        guard let storage = artifacts,
              let video = try await videos.video(id: input.path.videoId, userID: caller.user.id),
              let artifact = video.artifacts.first(where: { $0.kind.rawValue == input.path.kind.rawValue })
        else { throw APIError.notFound }
        // Copied from storage (a shared directory or a bucket) to a local file, then streamed in
        // chunks: memory stays bounded whatever the artifact's size.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-download-\(UUID().uuidString)")
        do { try await storage.fetch(key: artifact.storageKey, to: file) } catch {
            try? FileManager.default.removeItem(at: file)
            throw error
        }
        let stream = try TemporaryFileStream(url: file)
        return .ok(.init(body: .binary(HTTPBody(stream.chunks, length: .known(stream.size), iterationBehavior: .single))))
    }

    /// The caller's settings that submissions default from.
    func userDefaults(_ userID: String) async throws -> UserSettings {
        guard let json = try await users.settings(userID: userID) else { throw APIError.notFound }
        return try UserSettings(json: json)
    }
}

/// A rough processing time for `estimated_completion`: a fixed start-up plus a tenth of the
/// spoken length per video, the videos of a batch sharing the fleet.
enum ProcessingEstimate {
    static func seconds(for requests: [VideoRequest]) -> TimeInterval {
        let work = requests.reduce(0.0) { $0 + 10 + Double($1.durationTarget) * 0.1 }
        return requests.count > 1 ? work / 4 + 10 : work
    }
}

extension Video {
    var schema: Components.Schemas.Video {
        let parts = quality.flatMap { try? JSONDecoder().decode(QualityReview.self, from: Data($0.utf8)) }
        return .init(
            id: id, kind: .init(kind), channelId: channelID, batchId: batchID, title: request.title, description: request.description, tags: tags,
            scriptStyle: request.scriptStyle, voiceId: request.voiceID, thumbnailStyle: request.thumbnailStyle,
            durationTarget: request.durationTarget, keywords: request.keywords, status: .init(status),
            stage: stage, progress: progress, costLimit: request.costLimit.dollars, estimatedCost: estimatedCost.dollars,
            actualCost: spent.dollars, reservedCost: reserved.dollars, qualityThreshold: request.qualityThreshold,
            qualityScore: qualityScore,
            quality: parts.map { .init(score: $0.score, scriptLength: $0.scriptLength, audioDuration: $0.audioDuration,
                                       thumbnail: $0.thumbnail, keywordCoverage: $0.keywordCoverage) },
            regeneratedStage: regeneratedStage, error: errorSchema,
            stages: stages.map { stage in
                .init(stage: .init(stage.stage), status: .init(stage.status),
                      attempt: stage.attempt, provider: stage.provider, model: stage.model, cost: stage.cost.dollars, error: stage.error,
                      startedAt: stage.startedAt, finishedAt: stage.finishedAt)
            },
            artifacts: artifacts.map { artifact in
                .init(kind: .init(artifact.kind), contentType: artifact.contentType, sizeBytes: artifact.sizeBytes,
                      durationSeconds: artifact.durationSeconds, url: "\(APIServer.basePath)/videos/\(id)/artifacts/\(artifact.kind.rawValue)")
            },
            createdAt: createdAt, updatedAt: updatedAt, completedAt: finishedAt, youtubeVideoId: youtubeVideoID, publishedAt: publishedAt)
    }

    var errorSchema: Components.Schemas.VideoError? {
        errorCode.map { .init(code: $0, message: errorMessage ?? $0) }
    }

    /// Progress, spend and an ETA: the remaining share of the estimate, never in the past.
    var progressSchema: Components.Schemas.VideoProgress {
        var eta: Date?
        if status == .processing {
            let total = ProcessingEstimate.seconds(for: [request])
            eta = max(createdAt.addingTimeInterval(total), Date().addingTimeInterval(total * Double(100 - progress) / 100))
        }
        return .init(videoId: id, status: .init(status), stage: stage, progress: progress,
                     spent: spent.dollars, reserved: reserved.dollars, costLimit: request.costLimit.dollars, estimatedCompletion: eta,
                     error: errorSchema)
    }
}
