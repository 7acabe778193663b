import Foundation

/// Another creator's channel as `channels.list?id=` shows it: public figures and the
/// playlist of its uploads.
public struct YouTubePublicChannel: Sendable, Equatable {
    public var id: String
    public var title: String
    public var subscribers: Int64
    public var views: Int64
    public var videoCount: Int64
    /// The uploads playlist (`UU…`), nil when YouTube did not say.
    public var uploadsPlaylist: String?

    public init(id: String, title: String, subscribers: Int64, views: Int64, videoCount: Int64, uploadsPlaylist: String?) {
        self.id = id
        self.title = title
        self.subscribers = subscribers
        self.views = views
        self.videoCount = videoCount
        self.uploadsPlaylist = uploadsPlaylist
    }
}

/// One entry of a playlist (`playlistItems.list`): a video and when it was published.
public struct YouTubePlaylistVideo: Sendable, Equatable {
    public var videoID: String
    public var title: String
    public var publishedAt: Date?

    public init(videoID: String, title: String, publishedAt: Date?) {
        self.videoID = videoID
        self.title = title
        self.publishedAt = publishedAt
    }
}

/// A video of YouTube's most-popular chart (`videos.list?chart=mostPopular`), in chart order.
public struct YouTubeChartVideo: Sendable, Equatable {
    public var id: String
    public var channelTitle: String
    public var title: String
    public var tags: [String]
    public var views: Int64
    public var publishedAt: Date?

    public init(id: String, channelTitle: String, title: String, tags: [String], views: Int64, publishedAt: Date?) {
        self.id = id
        self.channelTitle = channelTitle
        self.title = title
        self.tags = tags
        self.views = views
        self.publishedAt = publishedAt
    }
}

/// One page of a playlist, newest first, and the token of the next.
public struct YouTubePlaylistPage: Sendable, Equatable {
    public var videos: [YouTubePlaylistVideo]
    public var nextPageToken: String?

    public init(videos: [YouTubePlaylistVideo], nextPageToken: String?) {
        self.videos = videos
        self.nextPageToken = nextPageToken
    }
}
