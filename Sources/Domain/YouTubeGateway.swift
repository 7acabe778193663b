import Foundation

/// Tokens from Google's token endpoint.
public struct OAuthTokens: Sendable, Equatable {
    public var accessToken: String
    /// Absent on refresh (Google keeps the original refresh token valid).
    public var refreshToken: String?
    public var expiresAt: Date
    /// The scopes Google granted (`scope` of the token response); nil when it did not say.
    public var grantedScopes: Set<String>?

    public init(accessToken: String, refreshToken: String?, expiresAt: Date, grantedScopes: Set<String>? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.grantedScopes = grantedScopes
    }

    public static let analyticsScope = "https://www.googleapis.com/auth/yt-analytics.readonly"
    public static let monetaryScope = "https://www.googleapis.com/auth/yt-analytics-monetary.readonly"

    /// Whether YouTube Analytics may be read: either analytics scope was granted (or Google did
    /// not list the scopes: the first refused report tells).
    public var grantsAnalytics: Bool {
        grantedScopes.map { $0.contains(Self.analyticsScope) || $0.contains(Self.monetaryScope) } ?? true
    }

    /// Whether revenue may be read (the monetary scope).
    public var grantsRevenue: Bool { grantedScopes.map { $0.contains(Self.monetaryScope) } ?? true }
}

/// A YouTube channel's public figures.
public struct YouTubeChannelInfo: Sendable, Equatable {
    public var id: String
    public var title: String
    public var subscribers: Int64
    public var views: Int64
    public var videoCount: Int64

    public init(id: String, title: String, subscribers: Int64, views: Int64, videoCount: Int64) {
        self.id = id
        self.title = title
        self.subscribers = subscribers
        self.views = views
        self.videoCount = videoCount
    }
}

/// A YouTube video's public figures.
public struct YouTubeVideoStats: Sendable, Equatable {
    public var id: String
    public var views: Int64
    public var likes: Int64
    public var comments: Int64

    public init(id: String, views: Int64, likes: Int64, comments: Int64) {
        self.id = id
        self.views = views
        self.likes = likes
        self.comments = comments
    }
}

/// What a new upload says about the video.
public struct UploadMetadata: Sendable, Equatable {
    public var title: String
    public var description: String
    public var tags: [String]
    public var privacyStatus: String

    public init(title: String, description: String, tags: [String], privacyStatus: String) {
        self.title = title
        self.description = description
        self.tags = tags
        self.privacyStatus = privacyStatus
    }
}

/// Where a resumable upload session stands.
public enum UploadProgress: Sendable, Equatable {
    /// The first `bytes` bytes arrived; send the rest.
    case received(bytes: Int64)
    /// The upload completed: the video's YouTube id.
    case complete(videoID: String)
    /// The session is gone (expired unfinished): a new one is needed.
    case expired
}

/// Why a YouTube or Google call failed, in the terms the product acts on.
public struct YouTubeError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The refresh token was revoked or expired (`invalid_grant`): the account needs reconnecting.
        case invalidGrant
        /// The access token was refused (401): refresh and try again.
        case unauthorized
        /// The project's daily quota is spent (`quotaExceeded`).
        case quotaExceeded
        /// The channel uploaded as much as it may today (`uploadLimitExceeded`).
        case uploadLimitExceeded
        /// Worth retrying: 5xx, 429, a dropped connection or a timeout.
        case transient
        /// The request itself was refused (4xx): retrying will not help.
        case rejected
    }

    public var kind: Kind
    public var status: Int
    public var message: String

    public init(_ kind: Kind, status: Int, message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    public var description: String { "YouTube \(kind.rawValue) (\(status)): \(message)" }
}

/// Google OAuth and the YouTube Data API v3 as the product uses them: connecting accounts,
/// refreshing tokens, reading statistics and uploading with the resumable protocol.
/// `Providers.YouTubeClient` speaks it over HTTP, to Google or to the sandbox.
public protocol YouTubeGateway: Sendable {
    /// The consent page to send the user to; Google redirects back with a code and `state`.
    func authorizationURL(state: String, loginHint: String?) -> String
    func exchange(code: String) async throws -> OAuthTokens
    func refresh(refreshToken: String) async throws -> OAuthTokens
    /// The signed-in Google account's email.
    func email(accessToken: String) async throws -> String
    /// The channel of the signed-in account (`mine=true`).
    func myChannel(accessToken: String) async throws -> YouTubeChannelInfo
    /// Statistics of up to 50 videos.
    func videoStatistics(ids: [String], accessToken: String) async throws -> [YouTubeVideoStats]
    /// Public figures of up to 50 channels by id (`channels.list?id=`, 1 unit); unknown ids
    /// are left out.
    func channels(ids: [String], accessToken: String) async throws -> [YouTubePublicChannel]
    /// A page of up to `maxResults` (≤ 50) entries of a playlist, newest first
    /// (`playlistItems.list`, 1 unit); `pageToken` is the previous page's `nextPageToken`.
    func playlistVideos(playlistID: String, maxResults: Int, pageToken: String?, accessToken: String) async throws -> YouTubePlaylistPage
    /// The first `maxResults` (≤ 50) videos of the most-popular chart of a region, optionally of
    /// one video category (`videos.list?chart=mostPopular`, 1 unit).
    func mostPopular(regionCode: String, categoryID: String?, maxResults: Int, accessToken: String) async throws -> [YouTubeChartVideo]
    /// Opens a resumable upload session.
    /// - Returns: the session URI.
    func openUpload(_ metadata: UploadMetadata, size: Int64, contentType: String, accessToken: String) async throws -> String
    /// Asks a session how much arrived.
    func uploadStatus(session: String, size: Int64) async throws -> UploadProgress
    /// Sends the bytes of `file` from `offset` on, in chunks, resuming after dropped chunks.
    func upload(file: URL, size: Int64, from offset: Int64, session: String) async throws -> UploadProgress
    func setThumbnail(videoID: String, image: Data, contentType: String, accessToken: String) async throws
    /// Runs a YouTube Analytics `reports.query` for the token's channel.
    func analyticsReport(_ query: AnalyticsQuery, accessToken: String) async throws -> AnalyticsTable
}
