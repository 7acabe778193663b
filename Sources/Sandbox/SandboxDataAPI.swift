import Foundation
import Hummingbird
import NIOCore

/// `channels.list`, `videos.list` and `thumbnails.set` (public channels and the chart are in
/// `SandboxPublicChannels.swift`). Statistics grow with the clock, so
/// successive syncs see real change.
extension YouTubeSandbox {
    func addDataAPIRoutes(to router: Router<SandboxContext>) {
        router.get("/youtube/v3/channels") { request, _ in try await self.listChannels(request) }
        router.get("/youtube/v3/videos") { request, _ in try await self.listVideos(request) }
        router.post("/upload/youtube/v3/thumbnails/set") { request, _ in try await self.setThumbnail(request) }
    }

    func listChannels(_ request: Request) async throws -> Response {
        guard let (account, clientID) = caller(request) else { return GoogleError.unauthenticated() }
        if let failure = try await injectedFailure() { return failure }
        let query = request.uri.queryParameters
        let wanted: [String]
        if query["mine"] == "true" {
            wanted = [account.channelID]
        } else if let ids = query["id"] {
            wanted = ids.split(separator: ",").map(String.init)
        } else {
            return GoogleError.api(.badRequest, reason: "missingRequiredParameter", domain: "youtube.parameter",
                                   message: "No filter selected. Expected one of: mine, id, forHandle, forUsername")
        }
        if let refused = charge("channels.list", channelID: account.channelID, clientID: clientID) { return refused }
        let now = configuration.now()
        guard wanted.count <= 50 else {
            return GoogleError.api(.badRequest, reason: "invalidValue", domain: "youtube.parameter", message: "At most 50 ids per request")
        }
        let publicChannels = configuration.publicChannels
        let items: [[String: Any]] = wanted.compactMap { id in
            if let channel = publicChannels.first(where: { $0.id == id }) { return publicChannelItem(channel, at: now) }
            return state.withLock { state in
                guard let channel = state.account(channelID: id) else { return nil }
                let videos = state.videos.values.filter { $0.channelID == id }
                let views = videos.reduce(0) { $0 + Self.views(of: $1, at: now) }
                return [
                    "kind": "youtube#channel", "id": id,
                    "snippet": ["title": channel.title, "description": "", "publishedAt": Self.timestamp(channel.createdAt)],
                    "contentDetails": ["relatedPlaylists": ["uploads": "UU" + id.dropFirst(2), "likes": ""]],
                    "statistics": ["viewCount": String(views), "subscriberCount": String(channel.subscribers + views / 100),
                                   "hiddenSubscriberCount": false, "videoCount": String(videos.count)],
                ]
            }
        }
        return json(["kind": "youtube#channelListResponse", "pageInfo": ["totalResults": items.count, "resultsPerPage": 50], "items": items])
    }

    func listVideos(_ request: Request) async throws -> Response {
        guard let (account, clientID) = caller(request) else { return GoogleError.unauthenticated() }
        if let failure = try await injectedFailure() { return failure }
        if request.uri.queryParameters["chart"] == "mostPopular" { return mostPopular(request, account: account, clientID: clientID) }
        guard let ids = request.uri.queryParameters["id"], !ids.isEmpty else {
            return GoogleError.api(.badRequest, reason: "missingRequiredParameter", domain: "youtube.parameter",
                                   message: "No filter selected. Expected one of: id, myRating, chart")
        }
        let wanted = ids.split(separator: ",").map(String.init)
        guard wanted.count <= 50 else {
            return GoogleError.api(.badRequest, reason: "invalidValue", domain: "youtube.parameter", message: "At most 50 ids per request")
        }
        if let refused = charge("videos.list", channelID: account.channelID, clientID: clientID) { return refused }
        let now = configuration.now()
        let uploaded: [String: [String: Any]] = state.withLock { state in
            Dictionary(wanted.compactMap { state.videos[$0] }.map { video in
                let views = Self.views(of: video, at: now)
                return (video.id, [
                    "kind": "youtube#video", "id": video.id,
                    "snippet": ["title": video.title, "description": video.description, "channelId": video.channelID,
                                "tags": video.tags, "publishedAt": Self.timestamp(video.publishedAt)],
                    "status": ["uploadStatus": "processed", "privacyStatus": video.privacyStatus],
                    "statistics": ["viewCount": String(views), "likeCount": String(views / 25),
                                   "favoriteCount": "0", "commentCount": String(views / 200)],
                ] as [String: Any])
            }, uniquingKeysWith: { first, _ in first })
        }
        let items = wanted.compactMap { id in uploaded[id] ?? publicVideo(id: id, at: now).map { publicVideoItem($0, at: now) } }
        return json(["kind": "youtube#videoListResponse", "pageInfo": ["totalResults": items.count, "resultsPerPage": 50], "items": items])
    }

    func setThumbnail(_ request: Request) async throws -> Response {
        guard let (account, clientID) = caller(request) else { return GoogleError.unauthenticated() }
        if let failure = try await injectedFailure() { return failure }
        guard let videoID = request.uri.queryParameters["videoId"].map(String.init) else {
            return GoogleError.api(.badRequest, reason: "missingRequiredParameter", domain: "youtube.parameter", message: "videoId is required")
        }
        let image = try await request.body.collect(upTo: 2 << 20)
        guard image.readableBytes > 0 else {
            return GoogleError.api(.badRequest, reason: "mediaBodyRequired", message: "The request does not include the image content.")
        }
        let owned = state.withLock { $0.videos[videoID]?.channelID == account.channelID }
        guard owned else {
            return GoogleError.api(.notFound, reason: "videoNotFound", domain: "youtube.thumbnail",
                                   message: "The video that you are trying to update cannot be found.")
        }
        if let refused = charge("thumbnails.set", channelID: account.channelID, clientID: clientID) { return refused }
        state.withLock { $0.videos[videoID]?.thumbnail = Data(buffer: image) }
        let url = "https://i.ytimg.com/vi/\(videoID)/default.jpg"
        return json(["kind": "youtube#thumbnailSetResponse", "items": [["default": ["url": url, "width": 120, "height": 90]]]])
    }

    /// Views grow by a per-video rate every minute after publishing.
    static func views(of video: SandboxState.Video, at now: Date) -> Int {
        let minutes = max(0, Int(now.timeIntervalSince(video.publishedAt) / 60))
        let rate = 1 + video.id.utf8.reduce(0) { ($0 * 31 + Int($1)) % 20 }
        return minutes * rate
    }

    static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
