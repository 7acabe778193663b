import Foundation
import Hummingbird

/// Public YouTube beyond the signed-in accounts: other creators' channels with their uploads
/// playlists (`playlistItems.list`), and the most-popular chart (`videos.list?chart=mostPopular`).
/// Their uploads are derived from the clock, deterministically: a channel uploads every
/// `uploadEveryHours` from 120 days before the sandbox started, and each video's views grow
/// by a per-video rate every minute, so snapshots taken on different days see real change.
extension YouTubeSandbox {
    /// A public channel the sandbox serves.
    public struct PublicChannel: Sendable, Equatable {
        public var id: String
        public var title: String
        /// The regions whose charts carry its videos (ISO 3166-1 alpha-2).
        public var regions: Set<String>
        /// The YouTube video category of its uploads (`28` Science & Technology, …).
        public var category: String
        public var subscribers: Int
        public var uploadEveryHours: Int
        /// Views per minute multiplier of its videos.
        public var popularity: Int
        /// Words its titles and tags are made of.
        public var topics: [String]

        public init(id: String, title: String, regions: Set<String>, category: String, subscribers: Int, uploadEveryHours: Int,
                    popularity: Int, topics: [String]) {
            self.id = id
            self.title = title
            self.regions = regions
            self.category = category
            self.subscribers = subscribers
            self.uploadEveryHours = max(1, uploadEveryHours)
            self.popularity = max(1, popularity)
            self.topics = topics.isEmpty ? ["video"] : topics
        }
    }

    /// The public channels every sandbox starts with.
    public static let defaultPublicChannels: [PublicChannel] = [
        PublicChannel(id: "UCsandboxTechDaily00000A", title: "Tech Daily", regions: ["US", "GB", "DE"], category: "28", subscribers: 820_000,
                      uploadEveryHours: 24, popularity: 5, topics: ["ai", "gadgets", "review", "smartphone", "laptop", "chip"]),
        PublicChannel(id: "UCsandboxCodeCraft00000B", title: "Code Craft", regions: ["US", "IN"], category: "28", subscribers: 240_000,
                      uploadEveryHours: 72, popularity: 3, topics: ["swift", "python", "tutorial", "ai", "database", "beginner"]),
        PublicChannel(id: "UCsandboxKitchenLab0000C", title: "Kitchen Lab", regions: ["US", "GB"], category: "26", subscribers: 510_000,
                      uploadEveryHours: 48, popularity: 4, topics: ["recipe", "pasta", "baking", "quick", "vegan", "budget"]),
        PublicChannel(id: "UCsandboxPlayMore000000D", title: "Play More", regions: ["US", "DE", "JP"], category: "20", subscribers: 1_300_000,
                      uploadEveryHours: 12, popularity: 6, topics: ["gameplay", "speedrun", "review", "indie", "strategy", "update"]),
        PublicChannel(id: "UCsandboxHistoryHub0000E", title: "History Hub", regions: ["US", "GB", "IN"], category: "27", subscribers: 95_000,
                      uploadEveryHours: 96, popularity: 2, topics: ["history", "empire", "documentary", "ancient", "war", "explained"]),
    ]

    static let chartCategories: Set<String> = ["1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28"]

    func addPublicRoutes(to router: Router<SandboxContext>) {
        router.get("/youtube/v3/playlistItems") { request, _ in try await self.listPlaylistItems(request) }
    }

    /// The public channels this sandbox serves.
    public var publicChannels: [PublicChannel] { configuration.publicChannels }

    /// One upload of a public channel.
    struct PublicVideo {
        var id: String
        var channel: PublicChannel
        var title: String
        var tags: [String]
        var publishedAt: Date
    }

    /// When public channels began uploading.
    var publicSince: Date { state.withLock { $0.startedAt }.addingTimeInterval(-120 * 86_400) }

    /// Uploads of `channel` published by `now`, newest first.
    func uploads(of channel: PublicChannel, at now: Date) -> [PublicVideo] {
        guard let index = configuration.publicChannels.firstIndex(of: channel) else { return [] }
        let since = publicSince
        let step = TimeInterval(channel.uploadEveryHours * 3600)
        let count = now < since ? 0 : Int(now.timeIntervalSince(since) / step) + 1
        return (0..<count).reversed().map { publicVideo(channelIndex: index, number: $0, since: since) }
    }

    /// The `number`th upload of the channel at `channelIndex`; its id encodes both.
    func publicVideo(channelIndex: Int, number: Int, since: Date) -> PublicVideo {
        let channel = configuration.publicChannels[channelIndex]
        let alphabet = SandboxID.alphabet
        var id = [alphabet[(channelIndex / 64) % 64], alphabet[channelIndex % 64]]
        var rest = number
        var digits: [Character] = []
        for _ in 0..<9 {
            digits.append(alphabet[rest % 64])
            rest /= 64
        }
        id += digits.reversed()
        let topics = channel.topics
        let words = (0..<3).map { topics[(Self.seed("\(channel.id)#\(number)#\($0)") + $0) % topics.count] }
        var seen = Set<String>()
        let tags = words.filter { seen.insert($0).inserted }
        let title = tags.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " ") + " #\(number + 1)"
        return PublicVideo(id: String(id), channel: channel, title: title, tags: tags,
                           publishedAt: since.addingTimeInterval(TimeInterval(number * channel.uploadEveryHours * 3600)))
    }

    /// The public video with `id`, if it exists by `now`.
    func publicVideo(id: String, at now: Date) -> PublicVideo? {
        let alphabet = SandboxID.alphabet
        let values = id.compactMap { alphabet.firstIndex(of: $0) }
        guard id.count == 11, values.count == 11 else { return nil }
        let channelIndex = values[0] * 64 + values[1]
        let number = values[2...].reduce(0) { $0 * 64 + $1 }
        // Past what the clock allows, no such upload (and no overflow computing its date).
        guard channelIndex < configuration.publicChannels.count, number < 1_000_000 else { return nil }
        let video = publicVideo(channelIndex: channelIndex, number: number, since: publicSince)
        return video.publishedAt <= now ? video : nil
    }

    /// Views of a public video by `now`.
    static func views(of video: PublicVideo, at now: Date) -> Int {
        let minutes = max(0, Int(now.timeIntervalSince(video.publishedAt) / 60))
        return minutes * (1 + seed(video.id) % 20) * video.channel.popularity
    }

    func publicVideoItem(_ video: PublicVideo, at now: Date) -> [String: Any] {
        let views = Self.views(of: video, at: now)
        return [
            "kind": "youtube#video", "id": video.id,
            "snippet": ["title": video.title, "description": "", "channelId": video.channel.id, "channelTitle": video.channel.title,
                        "tags": video.tags, "categoryId": video.channel.category, "publishedAt": Self.timestamp(video.publishedAt)],
            "status": ["uploadStatus": "processed", "privacyStatus": "public"],
            "statistics": ["viewCount": String(views), "likeCount": String(views / 25), "favoriteCount": "0", "commentCount": String(views / 200)],
        ]
    }

    func publicChannelItem(_ channel: PublicChannel, at now: Date) -> [String: Any] {
        let videos = uploads(of: channel, at: now)
        let views = videos.reduce(0) { $0 + Self.views(of: $1, at: now) }
        return [
            "kind": "youtube#channel", "id": channel.id,
            "snippet": ["title": channel.title, "description": "", "publishedAt": Self.timestamp(publicSince)],
            "contentDetails": ["relatedPlaylists": ["uploads": "UU" + channel.id.dropFirst(2), "likes": ""]],
            "statistics": ["viewCount": String(views), "subscriberCount": String(channel.subscribers + views / 500),
                           "hiddenSubscriberCount": false, "videoCount": String(videos.count)],
        ]
    }

    /// `videos.list?chart=mostPopular`: public videos of the last 7 days in the region (and
    /// category), ranked by the views they gained in the last 24 hours.
    func mostPopular(_ request: Request, account: SandboxState.Account, clientID: String) -> Response {
        let query = request.uri.queryParameters
        let region = query["regionCode"].map(String.init) ?? "US"
        guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            return GoogleError.api(.badRequest, reason: "invalidRegionCode", domain: "youtube.parameter",
                                   message: "The regionCode parameter specifies an invalid region code.")
        }
        let category = query["videoCategoryId"].map(String.init)
        if let category, !Self.chartCategories.contains(category) {
            return GoogleError.api(.badRequest, reason: "videoChartNotFound", domain: "youtube.video",
                                   message: "The requested video chart is not supported or is not available.")
        }
        let maxResults = query["maxResults"].map { Int($0) ?? -1 } ?? 5
        guard (1...50).contains(maxResults) else {
            return GoogleError.api(.badRequest, reason: "invalidValue", domain: "youtube.parameter", message: "maxResults must be 1 to 50")
        }
        let offset = Self.pageOffset(query["pageToken"].map(String.init))
        if let refused = charge("videos.list", channelID: account.channelID, clientID: clientID) { return refused }
        let now = configuration.now()
        let dayAgo = now.addingTimeInterval(-86_400), weekAgo = now.addingTimeInterval(-7 * 86_400)
        let candidates = configuration.publicChannels
            .filter { $0.regions.contains(region) && (category == nil || $0.category == category) }
            .flatMap { channel in uploads(of: channel, at: now).prefix { $0.publishedAt >= weekAgo } }
        let ranked = candidates
            .map { ($0, Self.views(of: $0, at: now) - Self.views(of: $0, at: dayAgo)) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
            .prefix(200)
        // YouTube has no chart for some regions and categories.
        guard !ranked.isEmpty else {
            return GoogleError.api(.badRequest, reason: "videoChartNotFound", domain: "youtube.video",
                                   message: "The requested video chart is not supported or is not available.")
        }
        let page = ranked.dropFirst(offset).prefix(maxResults)
        var body: [String: Any] = [
            "kind": "youtube#videoListResponse", "pageInfo": ["totalResults": ranked.count, "resultsPerPage": maxResults],
            "items": page.map { publicVideoItem($0.0, at: now) },
        ]
        if maxResults > 0, offset + maxResults < ranked.count { body["nextPageToken"] = "page\(offset + maxResults)" }
        return json(body)
    }

    /// Where a `pageToken` (`page<offset>`, as this sandbox writes them) starts: 0 for anything
    /// else, and never past 10,000.
    static func pageOffset(_ token: String?) -> Int {
        guard let token, token.hasPrefix("page"), token.utf8.count <= 12, let offset = Int(token.dropFirst(4)) else { return 0 }
        return min(max(offset, 0), 10_000)
    }

    /// `playlistItems.list` for uploads playlists (`UU…`), newest first, 1 unit per page.
    func listPlaylistItems(_ request: Request) async throws -> Response {
        guard let (account, clientID) = caller(request) else { return GoogleError.unauthenticated() }
        if let failure = try await injectedFailure() { return failure }
        let query = request.uri.queryParameters
        guard let playlist = query["playlistId"].map(String.init), !playlist.isEmpty else {
            return GoogleError.api(.badRequest, reason: "missingRequiredParameter", domain: "youtube.parameter",
                                   message: "No filter selected. Expected one of: playlistId, id")
        }
        let maxResults = query["maxResults"].map { Int($0) ?? -1 } ?? 5
        guard (0...50).contains(maxResults) else {
            return GoogleError.api(.badRequest, reason: "invalidValue", domain: "youtube.parameter", message: "maxResults must be 0 to 50")
        }
        let offset = Self.pageOffset(query["pageToken"].map(String.init))
        let now = configuration.now()
        let channelID = playlist.hasPrefix("UU") ? "UC" + playlist.dropFirst(2) : ""
        let entries: [(id: String, title: String, channelID: String, publishedAt: Date)]
        if let channel = configuration.publicChannels.first(where: { $0.id == channelID }) {
            entries = uploads(of: channel, at: now).map { ($0.id, $0.title, channel.id, $0.publishedAt) }
        } else if state.withLock({ $0.account(channelID: channelID) }) != nil {
            entries = state.withLock { state in
                state.videoOrder.reversed().compactMap { state.videos[$0] }.filter { $0.channelID == channelID }
                    .map { ($0.id, $0.title, $0.channelID, $0.publishedAt) }
            }
        } else {
            return GoogleError.api(.notFound, reason: "playlistNotFound", domain: "youtube.playlistItem",
                                   message: "The playlist identified with the request's playlistId parameter cannot be found.")
        }
        if let refused = charge("playlistItems.list", channelID: account.channelID, clientID: clientID) { return refused }
        let page = entries.dropFirst(offset).prefix(maxResults)
        var body: [String: Any] = [
            "kind": "youtube#playlistItemListResponse", "pageInfo": ["totalResults": entries.count, "resultsPerPage": maxResults],
            "items": page.enumerated().map { index, entry -> [String: Any] in
                [
                    "kind": "youtube#playlistItem", "id": "\(playlist).\(offset + index)",
                    "snippet": ["publishedAt": Self.timestamp(entry.publishedAt), "channelId": entry.channelID, "title": entry.title,
                                "playlistId": playlist, "position": offset + index,
                                "resourceId": ["kind": "youtube#video", "videoId": entry.id]],
                    "contentDetails": ["videoId": entry.id, "videoPublishedAt": Self.timestamp(entry.publishedAt)],
                ]
            },
        ]
        if maxResults > 0, offset + maxResults < entries.count { body["nextPageToken"] = "page\(offset + maxResults)" }
        return json(body)
    }
}
