@testable import API
import Domain
import Foundation
import Providers
import TestSupport
import Testing

/// Through the API and real workers: a submitted video completes, its artifacts download to
/// their owner only, byte for byte as stored.
@Suite struct PipelineAPITests {
    @Test func aVideoCompletesAndItsArtifactsDownloadToTheOwnerOnly() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            try await withAPI(db, artifacts: try fleet.storage) { api in
                let owner = try await signUp(api, db, "maker@example.com")
                let intruder = try await signUp(api, db, "peeker@example.com")
                let channel = try await api.call(.post, "/channels", json: ["name": "Main"], token: owner).decode(Components.Schemas.Channel.self).id
                let accepted = try await api.call(.post, "/videos/generate", json: [
                    "channel_id": channel, "title": "Queues in Postgres", "keywords": ["postgres", "queue"], "duration_target": 20,
                    "quality_threshold": 60,
                ], token: owner)
                let id = try accepted.decode(Components.Schemas.VideoAccepted.self).videoId
                let finished = try await fleet.run(workers: 1) { try await fleet.waitForVideos() }
                #expect(finished)
                let video = try await api.call(.get, "/videos/\(id)", token: owner).decode(Components.Schemas.Video.self)
                #expect(video.status == .completed && video.progress == 100)
                #expect(Set(video.artifacts.map(\.kind.rawValue)) == ["script", "audio", "thumbnail", "video"])
                let status = try await api.call(.get, "/videos/\(id)/status", token: owner).decode(Components.Schemas.VideoProgress.self)
                #expect(status.reserved == 0 && status.estimatedCompletion == nil)
                let mp4 = try #require(video.artifacts.first { $0.kind == .video })
                let download = try await api.call(.get, "/videos/\(id)/artifacts/video", token: owner)
                #expect(download.status == .ok)
                #expect(Int64(download.data.count) == mp4.sizeBytes)
                #expect(download.data.prefix(12).suffix(8) == Data("ftypisom".utf8), "an MP4 file")
                let script = try await api.call(.get, "/videos/\(id)/artifacts/script", token: owner)
                #expect(String(decoding: script.data, as: UTF8.self).lowercased().contains("postgres"))
                #expect(try await api.call(.get, "/videos/\(id)/artifacts/video", token: intruder).status == .notFound)
                let profile = try await api.call(.get, "/users/profile", token: owner).decode(Components.Schemas.Profile.self)
                #expect(profile.usage.videosGenerated == 1)
            }
        }
    }

    @Test func processingTasksRunOneStageEach() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            try await withAPI(db, artifacts: try fleet.storage) { api in
                let token = try await signUp(api, db, "tasks@example.com")
                let channel = try await api.call(.post, "/channels", json: ["name": "Main"], token: token).decode(Components.Schemas.Channel.self).id
                // Queued while no worker runs: the queue shows them by stage.
                let voice = try await api.call(.post, "/video-processing/voice", json: [
                    "channel_id": channel, "text": "Postgres runs every stage of this fleet as a job. Workers claim them with skip locked.",
                ], token: token)
                #expect(voice.status == .accepted)
                let voiceID = try voice.decode(Components.Schemas.ProcessingTask.self).taskId
                let thumbnail = try await api.call(.post, "/video-processing/thumbnail", json: ["channel_id": channel, "title": "Fleet Basics"], token: token)
                let thumbnailID = try thumbnail.decode(Components.Schemas.ProcessingTask.self).taskId
                let queue = try await api.call(.get, "/video-processing/queue", token: token).decode(Components.Schemas.ProcessingQueue.self)
                #expect(queue.processing == 2)
                #expect(Set(queue.stages.map(\.stage.rawValue)) == ["voice", "thumbnail"])
                #expect(try await api.call(.post, "/video-processing/script", json: ["channel_id": channel, "title": "x"], token: token,
                                           headers: [:]).status == .accepted)
                #expect(try await api.call(.post, "/video-processing/voice?wait=31", json: ["channel_id": channel, "text": "hi"], token: token).status == .badRequest)
                try await fleet.run(workers: 1) {
                    // With a worker running, a quick task answers with its result.
                    let script = try await api.call(.post, "/video-processing/script?wait=30", json: [
                        "channel_id": channel, "title": "Queues in Postgres", "keywords": ["skip", "locked"], "duration_target": 20,
                    ], token: token)
                    #expect(script.status == .ok)
                    let task = try script.decode(Components.Schemas.ProcessingTask.self)
                    #expect(task.status == .completed && task.text?.contains("skip") == true && task.artifact?.kind == .script)
                    #expect(try await fleet.waitForVideos())
                }
                let spoken = try await api.call(.get, "/videos/\(voiceID)", token: token).decode(Components.Schemas.Video.self)
                #expect(spoken.status == .completed && spoken.kind == .voice)
                let audio = try #require(spoken.artifacts.first)
                #expect(audio.kind == .audio && (audio.durationSeconds ?? 0) > 2)
                #expect(try await api.call(.get, "/videos/\(thumbnailID)/artifacts/thumbnail", token: token).data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
                // Tasks are not videos of the month.
                let profile = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self)
                #expect(profile.subscription.videosRemaining == 10)
            }
        }
    }

    @Test func optimizingACompletedVideoRedoesItsWeakestStage() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            try await withAPI(db, artifacts: try fleet.storage) { api in
                let owner = try await signUp(api, db, "optimizer@example.com")
                let other = try await signUp(api, db, "bystander@example.com")
                let channel = try await api.call(.post, "/channels", json: ["name": "Main"], token: owner).decode(Components.Schemas.Channel.self).id
                let id = try await api.call(.post, "/videos/generate", json: [
                    "channel_id": channel, "title": "Optimize me", "duration_target": 15, "quality_threshold": 0,
                ], token: owner).decode(Components.Schemas.VideoAccepted.self).videoId
                #expect(try await api.call(.post, "/video-processing/optimize", json: ["video_id": id], token: owner).status == .conflict,
                        "not completed yet")
                let first = try await fleet.run(workers: 1) { try await fleet.waitForVideos() }
                #expect(first)
                #expect(try await api.call(.post, "/video-processing/optimize", json: ["video_id": id], token: other).status == .notFound)
                let accepted = try await api.call(.post, "/video-processing/optimize", json: ["video_id": id], token: owner)
                #expect(accepted.status == .accepted)
                #expect(try accepted.decode(Components.Schemas.VideoProgress.self).status == .processing)
                let second = try await fleet.run(workers: 1) { try await fleet.waitForVideos() }
                #expect(second)
                let video = try await api.call(.get, "/videos/\(id)", token: owner).decode(Components.Schemas.Video.self)
                #expect(video.status == .completed)
                let redone = try #require(video.regeneratedStage)
                let stage = try #require(PipelineStage(rawValue: redone))
                for each in PipelineStage.allCases {
                    let runs = try await db.scalar("SELECT count(*) FROM jobs WHERE kind = \(each.jobKind) AND args->>'video_id' = \(id)")
                    #expect(runs == (stage.downstream.contains(each) ? 2 : 1), "\(each)")
                }
            }
        }
    }
}
