@testable import API
import Domain
import Foundation
import HTTPTypes
import Queue
import TestSupport
import Testing

@Suite struct ChannelAPITests {
    @Test func channelsAreCreatedListedChangedAndDeleted() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "chan@example.com", tier: "starter")
                let created = try await api.call(.post, "/channels", json: [
                    "name": "Tech Reviews", "youtube_channel_id": "UC123456789", "category": "technology",
                    "posting_schedule": ["frequency": "daily", "preferred_times": ["09:00", "20:00"]],
                ], token: token)
                #expect(created.status == .created)
                let channel = try created.decode(Components.Schemas.Channel.self)
                let id = channel.id
                #expect(id.hasPrefix("ch_"))
                #expect(channel.status == .active)
                #expect(channel.postingSchedule?.frequency == .daily)
                #expect(channel.postingSchedule?.preferredTimes == ["09:00", "20:00"])
                // The same YouTube channel twice is a conflict.
                let again = try await api.call(.post, "/channels", json: ["name": "Copy", "youtube_channel_id": "UC123456789"], token: token)
                #expect(again.status == .conflict)
                #expect(try await api.call(.post, "/channels", json: ["name": "Second"], token: token).status == .created)
                let changed = try await api.call(.put, "/channels/\(id)", json: ["status": "suspended", "name": "Renamed"], token: token)
                    .decode(Components.Schemas.Channel.self)
                #expect(changed.name == "Renamed" && changed.status == .suspended)
                let suspended = try await api.call(.get, "/channels?status=suspended", token: token).decode(Components.Schemas.ChannelList.self)
                #expect(suspended.total == 1)
                let page = try await api.call(.get, "/channels?page=2&limit=1", token: token).decode(Components.Schemas.ChannelList.self)
                #expect(page.pages == 2)
                #expect(page.channels.map(\.name) == ["Second"])
                #expect(try await api.call(.get, "/channels?limit=101", token: token).status == .badRequest)
                #expect(try await api.call(.delete, "/channels/\(id)", token: token).status == .ok)
                #expect(try await api.call(.get, "/channels/\(id)", token: token).status == .notFound)
            }
        }
    }

    @Test func badSchedulesAndThePlansChannelLimitAreRefused() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "free@example.com")
                let badTime = try await api.call(.post, "/channels", json: ["name": "X", "posting_schedule": ["frequency": "daily", "preferred_times": ["25:00"]]], token: token)
                #expect(badTime.status == .badRequest)
                let badFrequency = try await api.call(.post, "/channels", json: ["name": "X", "posting_schedule": ["frequency": "hourly"]], token: token)
                #expect(badFrequency.status == .badRequest)
                #expect(try await api.call(.post, "/channels", json: ["name": "  "], token: token).status == .badRequest)
                #expect(try await api.call(.post, "/channels", json: ["name": "Only one"], token: token).status == .created)
                let second = try await api.call(.post, "/channels", json: ["name": "One too many"], token: token)
                #expect(second.status == .forbidden)
                #expect(try (second.decode(Components.Schemas.ErrorEnvelope.self).error) == "forbidden")
                #expect(try (second.decode(Components.Schemas.ErrorEnvelope.self).details?.reason) == "plan_limit_reached")
            }
        }
    }
}

@Suite struct VideoAPITests {
    func channel(_ api: APIClient, _ token: String) async throws -> String {
        try await api.call(.post, "/channels", json: ["name": "Main"], token: token).decode(Components.Schemas.Channel.self).id
    }

    @Test func aSubmittedVideoIsQueuedAndCanBeReadAndCancelled() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "vid@example.com")
                let channel = try await channel(api, token)
                let accepted = try await api.call(.post, "/videos/generate", json: [
                    "channel_id": channel, "title": "Top 10 Tech Gadgets", "keywords": ["tech", "gadgets"], "duration_target": 60,
                    "cost_limit": 3.0, "quality_threshold": 85,
                ], token: token)
                #expect(accepted.status == .accepted)
                let queued = try accepted.decode(Components.Schemas.VideoAccepted.self)
                let id = queued.videoId
                #expect(queued.status == .processing)
                #expect(queued.websocketChannel == "video_updates_\(id)")
                #expect(queued.estimatedCompletion > Date())
                // The first stage is a queued job with the user as its owner.
                #expect(try await db.scalar("""
                    SELECT count(*) FROM jobs j JOIN videos v ON v.id = j.args->>'video_id'
                     WHERE j.kind = 'video.script' AND v.id = \(id) AND j.owner = v.user_id
                    """) == 1)
                let video = try await api.call(.get, "/videos/\(id)", token: token).decode(Components.Schemas.Video.self)
                #expect(video.costLimit == 3.0)
                #expect(video.stages.map(\.stage) == [.script, .voice, .thumbnail, .assemble, .review])
                #expect(video.stages.allSatisfy { $0.status == .pending || $0.status == .running })
                let listed = try await api.call(.get, "/videos?status=processing&channel_id=\(channel)", token: token)
                    .decode(Components.Schemas.VideoList.self)
                #expect(listed.total == 1 && listed.videos.map(\.id) == [id])
                #expect(try await api.call(.get, "/videos?status=completed", token: token).decode(Components.Schemas.VideoList.self).total == 0)
                #expect(try await api.call(.get, "/videos?date_from=2030-01-01T00:00:00Z", token: token).decode(Components.Schemas.VideoList.self).total == 0)
                #expect(try await api.call(.get, "/videos?date_from=2030-01-01T00:00:00Z&date_to=2020-01-01T00:00:00Z", token: token).decode(Components.Schemas.VideoList.self).total == 0)
                #expect(try await api.call(.get, "/videos?channel_id=\(String(repeating: "c", count: 65))", token: token).status == .badRequest)
                let renamed = try await api.call(.put, "/videos/\(id)", json: ["title": "Renamed", "tags": ["a", "b"]], token: token)
                    .decode(Components.Schemas.Video.self)
                #expect(renamed.title == "Renamed" && renamed.tags == ["a", "b"])
                let cancelled = try await api.call(.post, "/videos/\(id)/cancel", token: token).decode(Components.Schemas.VideoProgress.self)
                #expect(cancelled.status == .cancelled)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'cancelled' AND args->>'video_id' = \(id)") == 1)
                #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'video.cancelled'") == 1)
                let profile = try await api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self)
                #expect(profile.subscription.videosRemaining == 9)
                #expect(try await api.call(.delete, "/videos/\(id)", token: token).status == .ok)
                #expect(try await api.call(.get, "/videos/\(id)/status", token: token).status == .notFound)
            }
        }
    }

    @Test func badSubmissionsGetClearErrors() async throws {
        var plan = PipelinePlan.offline
        plan.prices.prices.removeAll { $0.model == "espeak-ng" }
        plan.prices.prices.append(.init(provider: "offline", model: "espeak-ng", unit: "character", usdPerUnit: 0.001))
        try await withDatabase { db in
            try await withAPI(db, plan: plan) { api in
                let token = try await signUp(api, db, "bad@example.com")
                let channel = try await channel(api, token)
                func submit(_ body: [String: Any]) async throws -> APIClient.Reply {
                    try await api.call(.post, "/videos/generate", json: body, token: token)
                }
                #expect(try await submit(["channel_id": channel]).status == .badRequest)
                #expect(try await submit(["channel_id": channel, "title": "x", "duration_target": 5]).status == .badRequest)
                #expect(try await submit(["channel_id": channel, "title": "x", "script_style": "shouty"]).status == .badRequest)
                #expect(try await submit(["channel_id": channel, "title": "x", "cost_limit": -1]).status == .badRequest)
                let unknown = try await submit(["channel_id": "ch_nope", "title": "x"])
                #expect(unknown.status == .notFound)
                // 600 s of speech at $0.001 a character is about $9: a $1 ceiling cannot cover it.
                let tooCheap = try await submit(["channel_id": channel, "title": "x", "cost_limit": 1])
                #expect(tooCheap.status == .unprocessableContent)
                #expect(try (tooCheap.decode(Components.Schemas.ErrorEnvelope.self).error) == "cost_limit_exceeded")
                #expect(try await db.scalar("SELECT count(*) FROM videos") == 0)
            }
        }
    }

    @Test func batchesAreAtomicIdempotentAndCancellable() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "batch@example.com", tier: "professional")
                let channel = try await channel(api, token)
                let videos = (0..<25).map { ["title": "Video \($0)", "channel_id": channel] as [String: Any] }
                let body: [String: Any] = ["videos": videos, "processing_options": ["parallel": true, "priority": "high", "cost_limit_per_video": 3.0]]
                let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "batch-1"]
                let first = try await api.call(.post, "/batch/videos", json: body, token: token, headers: key)
                #expect(first.status == .accepted)
                let accepted = try first.decode(Components.Schemas.BatchAccepted.self)
                let batch = accepted.batchId
                #expect(accepted.videoIds.count == 25 && accepted.total == 25 && !accepted.replayed)
                let retry = try await api.call(.post, "/batch/videos", json: body, token: token, headers: key)
                #expect(retry.status == .accepted, "\(retry.body)")
                let replayed = try retry.decode(Components.Schemas.BatchAccepted.self)
                #expect(replayed.batchId == batch && replayed.replayed && replayed.videoIds == accepted.videoIds)
                let different = try await api.call(.post, "/videos/batch", json: ["videos": [["title": "Other", "channel_id": channel]]],
                                                   token: token, headers: key)
                #expect(different.status == .conflict)
                #expect(try await db.scalar("SELECT count(*) FROM videos") == 25)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'video.script' AND priority = 1") == 25)
                // One bad video refuses the whole batch, naming it; nothing is written.
                var bad = videos
                bad[7]["duration_target"] = 1
                let refused = try await api.call(.post, "/videos/batch", json: ["videos": bad], token: token)
                #expect(refused.status == .badRequest)
                #expect(try (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == "videos[7].duration_target")
                #expect(try await db.scalar("SELECT count(*) FROM videos") == 25)
                let tooMany = (0..<1001).map { ["title": "V\($0)", "channel_id": channel] as [String: Any] }
                #expect(try await api.call(.post, "/videos/batch", json: ["videos": tooMany], token: token).status == .badRequest)
                let status = try await api.call(.get, "/batch/\(batch)/status", token: token).decode(Components.Schemas.BatchProgress.self)
                #expect(status.total == 25 && status.counts.additionalProperties["processing"] == 25)
                let cancelled = try await api.call(.post, "/batch/\(batch)/cancel", token: token).decode(Components.Schemas.BatchProgress.self)
                #expect(cancelled.status == .cancelled && cancelled.counts.additionalProperties["cancelled"] == 25)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'cancelled'") == 25)
                #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'batch.completed'") == 1)
            }
        }
    }

    @Test func aThousandVideoBatchIsCancelledAtOnceAndAChannelsDeletionCancelsItsWork() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "thousand@example.com", tier: "enterprise")
                let main = try await channel(api, token)
                let other = try await channel(api, token)
                let videos = (0..<1000).map { ["title": "Video \($0)", "channel_id": main] as [String: Any] }
                let submitted = try await api.call(.post, "/batch/videos", json: ["videos": videos], token: token)
                #expect(submitted.status == .accepted, "\(submitted.body)")
                let batch = try submitted.decode(Components.Schemas.BatchAccepted.self).batchId
                let lone = try await api.call(.post, "/videos/generate", json: ["title": "Elsewhere", "channel_id": other], token: token)
                let loneID = try lone.decode(Components.Schemas.VideoAccepted.self).videoId
                let cancelled = try await api.call(.post, "/batch/\(batch)/cancel", token: token).decode(Components.Schemas.BatchProgress.self)
                #expect(cancelled.counts.additionalProperties["cancelled"] == 1000)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'cancelled'") == 1000)
                #expect(try await db.scalar("""
                    SELECT count(DISTINCT data->>'video_id') FROM domain_events
                     WHERE type = 'video.cancelled' AND data->>'batch_id' = \(batch) AND data->>'message' = 'The batch was cancelled'
                    """) == 1000)
                #expect(try await db.scalar("""
                    SELECT (data->>'cancelled')::int8 FROM domain_events WHERE type = 'batch.completed' AND data->>'batch_id' = \(batch)
                    """) == 1000)
                // The other channel's video is untouched until its channel goes; then its work stops too.
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'available' AND args->>'video_id' = \(loneID)") == 1)
                #expect(try await api.call(.delete, "/channels/\(other)", token: token).status == .ok)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE state = 'cancelled' AND args->>'video_id' = \(loneID)") == 1)
                #expect(try await db.scalar("""
                    SELECT count(*) FROM domain_events WHERE type = 'video.cancelled' AND data->>'video_id' = \(loneID)
                    """) == 1)
            }
        }
    }

    @Test func theMonthlyAllowanceIsEnforcedAtSubmit() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "allowance@example.com")
                let channel = try await channel(api, token)
                let eleven = (0..<11).map { ["title": "V\($0)", "channel_id": channel] as [String: Any] }
                let refused = try await api.call(.post, "/batch/videos", json: ["videos": eleven], token: token)
                #expect(refused.status == .forbidden)
                #expect(try (refused.decode(Components.Schemas.ErrorEnvelope.self).error) == "forbidden")
                #expect(try (refused.decode(Components.Schemas.ErrorEnvelope.self).details?.reason) == "plan_limit_reached")
                #expect(try await api.call(.post, "/batch/videos", json: ["videos": Array(eleven.prefix(10))], token: token).status == .accepted)
                #expect(try await api.call(.post, "/videos/generate", json: ["title": "one more", "channel_id": channel], token: token).status == .forbidden)
            }
        }
    }

    @Test func everyVideoRouteAnswers404ForAnotherUsersIDs() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let owner = try await signUp(api, db, "owner@example.com")
                let intruder = try await signUp(api, db, "intruder@example.com")
                let channel = try await channel(api, owner)
                let video = try await api.call(.post, "/videos/generate", json: ["title": "Mine", "channel_id": channel], token: owner)
                    .decode(Components.Schemas.VideoAccepted.self).videoId
                let batch = try await api.call(.post, "/batch/videos", json: ["videos": [["title": "Mine too", "channel_id": channel]]], token: owner)
                    .decode(Components.Schemas.BatchAccepted.self).batchId
                let probes: [(HTTPRequest.Method, String, [String: Any]?)] = [
                    (.get, "/channels/\(channel)", nil), (.put, "/channels/\(channel)", ["name": "Taken"]), (.delete, "/channels/\(channel)", nil),
                    (.get, "/videos/\(video)", nil), (.put, "/videos/\(video)", ["title": "Taken"]), (.delete, "/videos/\(video)", nil),
                    (.get, "/videos/\(video)/status", nil), (.post, "/videos/\(video)/cancel", nil),
                    (.get, "/videos/\(video)/artifacts/script", nil), (.get, "/batch/\(batch)/status", nil), (.post, "/batch/\(batch)/cancel", nil),
                    (.post, "/videos/generate", ["title": "Into your channel", "channel_id": channel]),
                    (.post, "/batch/videos", ["videos": [["title": "Into your channel", "channel_id": channel]]]),
                    (.post, "/video-processing/script", ["title": "Into your channel", "channel_id": channel]),
                    (.post, "/video-processing/voice", ["text": "Into your channel", "channel_id": channel]),
                    (.post, "/video-processing/thumbnail", ["title": "Into your channel", "channel_id": channel]),
                    (.post, "/video-processing/optimize", ["video_id": video]),
                ]
                for (method, path, json) in probes {
                    let reply = try await api.call(method, path, json: json, token: intruder)
                    #expect(reply.status == .notFound, "\(method) \(path)")
                }
                #expect(try await api.call(.get, "/videos", token: intruder).decode(Components.Schemas.VideoList.self).total == 0)
                #expect(try await api.call(.get, "/channels", token: intruder).decode(Components.Schemas.ChannelList.self).total == 0)
                #expect(try await api.call(.get, "/video-processing/queue", token: intruder).decode(Components.Schemas.ProcessingQueue.self).processing == 0)
                // Nothing of the owner's changed.
                #expect(try await api.call(.get, "/videos/\(video)", token: owner).decode(Components.Schemas.Video.self).status == .processing)
                #expect(try await api.call(.get, "/channels/\(channel)", token: owner).decode(Components.Schemas.Channel.self).name == "Main")
            }
        }
    }
}
