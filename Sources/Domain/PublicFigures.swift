import Foundation
import Logging
import PostgresNIO

/// YouTube's public data a user's analytics compare against: competitors' channels (their
/// `channels.list` figures and uploads playlists) and the most-popular charts the user looks at.
/// Every call's units are taken on one of the user's accounts through the quota allocator
/// first, like uploads; without an account with room nothing is fetched.
public struct PublicFigures: Sendable {
    public let gateway: any YouTubeGateway
    public let tokens: AccountTokens
    public let allocator: QuotaAllocator
    public let competitors: CompetitorStore
    public let trends: TrendStore
    public let now: @Sendable () -> Date
    let logger: Logger

    public init(client: PostgresClient, gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.gateway = gateway
        self.tokens = AccountTokens(gateway: gateway, accounts: YouTubeAccountRepository(client: client, cipher: cipher, policy: policy, logger: logger))
        self.allocator = QuotaAllocator(client: client, policy: policy, logger: logger)
        self.competitors = CompetitorStore(client: client, logger: logger)
        self.trends = TrendStore(client: client, logger: logger)
        self.now = now
        self.logger = logger
    }

    /// Why nothing was fetched.
    public enum Unavailable: Error, Sendable, Equatable {
        /// The user has no connected account with room for the units today.
        case noQuota
        /// The account's grant was revoked.
        case disconnected
    }

    /// Takes `units` on `accountID` (or the user's best account) and runs `call` with its token.
    /// YouTube's `quotaExceeded` rests the account until the reset.
    private func spend<T>(_ units: Int, userID: String, accountID: String?, _ call: (String) async throws -> T) async throws -> T {
        let reservation = if let accountID {
            try await allocator.charge(accountID: accountID, units: units, now: now())
        } else {
            try await allocator.reserve(userID: userID, units: units, now: now())
        }
        guard let reservation else { throw Unavailable.noQuota }
        do {
            guard let result = try await tokens.withToken(reservation.accountID, call) else { throw Unavailable.disconnected }
            return result
        } catch let error as YouTubeError where error.kind == .quotaExceeded {
            try await allocator.exhaust(accountID: reservation.accountID, now: now())
            throw error
        }
    }

    /// Uploads playlist pages read at most, newest first, to count a month's uploads (4 pages
    /// of 50: an upload every 3.4 hours).
    static let maximumPlaylistPages = 4

    /// Snapshots today's figures of the user's competitors that have none yet (claimed first,
    /// so concurrent syncs fetch each once): one `channels.list` for all of them, then per
    /// channel its uploads playlist back 28 days (`playlistItems.list`, 1 unit a page) and the
    /// views of its newest 50 (`videos.list`, 1 unit). A channel YouTube does not know is
    /// marked; one whose playlist is refused (no uploads) is stored without uploads.
    /// - Returns: how many competitors were snapshot.
    @discardableResult
    public func snapshotCompetitors(userID: String, accountID: String? = nil) async throws -> Int {
        let day = QuotaDay.of(now())
        let due = try await competitors.claimDue(userID: userID, day: day)
        guard !due.isEmpty else { return 0 }
        var snapshots: [CompetitorStore.Snapshot] = []
        var notFound: [String] = []
        do {
            let channels = try await spend(1, userID: userID, accountID: accountID) { token in
                try await gateway.channels(ids: due.map(\.youtubeChannelID), accessToken: token)
            }
            for competitor in due {
                guard let channel = channels.first(where: { $0.id == competitor.youtubeChannelID }) else {
                    notFound.append(competitor.id)
                    continue
                }
                var recent: (views: [Int64], uploads: Int) = ([], 0)
                if let playlist = channel.uploadsPlaylist, !playlist.isEmpty {
                    do {
                        recent = try await recentUploads(playlist: playlist, userID: userID, accountID: accountID)
                    } catch let error as YouTubeError where error.kind == .rejected {
                        logger.info("a competitor's uploads were refused", metadata: ["channel": "\(channel.id)", "error": "\(error)"])
                    }
                }
                snapshots.append(.init(competitorID: competitor.id, channel: channel, recentViews: recent.views, uploadsIn28Days: recent.uploads))
            }
        } catch {
            // What was fetched is kept; the rest is tried again by the next sync.
            try await competitors.record(day: day, snapshots: snapshots, notFound: notFound)
            let done = Set(snapshots.map(\.competitorID) + notFound)
            try await competitors.release(ids: due.map(\.id).filter { !done.contains($0) })
            throw error
        }
        try await competitors.record(day: day, snapshots: snapshots, notFound: notFound)
        return snapshots.count
    }

    /// The views of a playlist's newest 50 uploads and how many it published in the last 28 days.
    private func recentUploads(playlist: String, userID: String, accountID: String?) async throws -> (views: [Int64], uploads: Int) {
        let since = now().addingTimeInterval(-28 * 86_400)
        var uploads: [YouTubePlaylistVideo] = []
        var token: String?
        for _ in 0..<Self.maximumPlaylistPages {
            let page = try await spend(1, userID: userID, accountID: accountID) { access in
                try await gateway.playlistVideos(playlistID: playlist, maxResults: 50, pageToken: token, accessToken: access)
            }
            uploads += page.videos
            token = page.nextPageToken
            guard let next = token, !next.isEmpty, let oldest = page.videos.last?.publishedAt, oldest >= since else { break }
        }
        let newest = Array(uploads.prefix(50))
        guard !newest.isEmpty else { return ([], 0) }
        let stats = try await spend(1, userID: userID, accountID: accountID) { access in
            try await gateway.videoStatistics(ids: newest.map(\.videoID), accessToken: access)
        }
        let views = newest.compactMap { upload in stats.first { $0.id == upload.videoID }?.views }
        return (views, uploads.count { ($0.publishedAt ?? .distantPast) >= since })
    }

    /// Snapshots today's most-popular chart of a region (and category) unless it is stored or
    /// being fetched. A chart YouTube refuses is not asked for again within the hour.
    public func snapshotChart(userID: String, region: String, category: String?, accountID: String? = nil) async throws {
        let day = QuotaDay.of(now())
        guard try await trends.claimChart(region: region, category: category, day: day) else { return }
        do {
            let videos = try await spend(1, userID: userID, accountID: accountID) { token in
                try await gateway.mostPopular(regionCode: region, categoryID: category, maxResults: 50, accessToken: token)
            }
            try await trends.recordChart(day: day, region: region, category: category, videos: videos)
        } catch {
            let refused = (error as? YouTubeError)?.kind == .rejected
            try await trends.releaseChart(region: region, category: category, day: day, retryAfter: refused ? 3600 : 0)
            throw error
        }
    }

    /// The daily part of a channel sync: the user's competitors and followed charts not yet
    /// snapshot today, on the synced channel's account. It never fails the sync: what could
    /// not be fetched is tried again by the next one.
    public func dailySnapshots(userID: String, accountID: String) async {
        do {
            try await snapshotCompetitors(userID: userID, accountID: accountID)
            for chart in try await trends.chartsDue(userID: userID, day: QuotaDay.of(now())) {
                do {
                    try await snapshotChart(userID: userID, region: chart.region, category: chart.category, accountID: accountID)
                } catch let error as YouTubeError where error.kind == .rejected {
                    logger.info("the chart was refused", metadata: ["region": "\(chart.region)", "error": "\(error)"])
                }
            }
        } catch {
            logger.info("public figures wait for the next sync", metadata: ["reason": "\(String(reflecting: error))"])
        }
    }
}
