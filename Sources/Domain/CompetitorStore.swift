import Foundation
import Logging
import PostgresNIO
import Queue

/// A channel the user follows to compare with their own.
public struct Competitor: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// Added; its first snapshot is still to come.
        case pending
        case active
        /// YouTube knows no channel with this id.
        case notFound = "not_found"
    }

    public var id: String
    public var youtubeChannelID: String
    public var title: String?
    public var status: Status
    public var createdAt: Date
}

/// A competitor's latest public figures and what its recent uploads did.
public struct CompetitorFigures: Sendable, Equatable {
    public var day: String
    public var subscribers: Int64
    public var views: Int64
    public var videoCount: Int64
    /// Subscribers gained since the first snapshot in the window; nil with a single snapshot.
    public var subscriberChange: Int64?
    /// Uploads in the 28 days before the snapshot, per week.
    public var uploadsPerWeek: Double
    /// Median views of the newest uploads (up to 50; the lower middle value for an even
    /// count); nil when there were none.
    public var medianViews: Int64?
    public var recentVideos: Int
}

/// One side of the comparison: a competitor or one of the user's channels.
public struct ComparedChannel: Sendable, Equatable {
    public var id: String
    public var youtubeChannelID: String?
    public var title: String
    /// `pending` or `not_found` competitors have no figures yet.
    public var status: Competitor.Status
    public var figures: CompetitorFigures?
}

/// Competitors: the channels users follow (at most `maximum` each), their daily snapshots of
/// public figures (`channels.list` and the uploads playlist, never `search.list`), and their
/// comparison with the user's own channels.
public struct CompetitorStore: Sendable {
    public static let maximum = 10
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Whether `id` has the shape of a YouTube channel id (`UC` and 22 URL-safe characters).
    public static func isChannelID(_ id: String) -> Bool {
        id.utf8.count == 24 && id.hasPrefix("UC")
            && id.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
    }

    /// Follows a channel. Following one already followed answers it unchanged.
    /// - Throws: `invalid` for a malformed id, `limitReached` past `maximum`.
    /// - Returns: the competitor and whether it is new.
    public func add(userID: String, youtubeChannelID: String) async throws -> (Competitor, created: Bool) {
        guard Self.isChannelID(youtubeChannelID) else {
            throw DomainError(.invalid, "youtube_channel_id is a YouTube channel id: UC followed by 22 letters, digits, '-' or '_'",
                              field: "youtube_channel_id")
        }
        return try await client.withTransaction(logger: logger) { connection in
            try await UserLimitLock.lock(userID: userID, on: connection, logger: logger)
            if let existing = try await Self.select(where: "youtube_channel_id", is: youtubeChannelID, userID: userID, on: connection, logger: logger).first {
                return (existing, false)
            }
            let count = try await connection.query("SELECT count(*) FROM competitors WHERE user_id = \(userID)", logger: logger)
            for try await n in count.decode(Int64.self) where n >= Self.maximum {
                throw DomainError(.limitReached, "You follow \(Self.maximum) competitors already; remove one first", limit: Self.maximum)
            }
            let id = PrefixedID.make("comp_")
            try await connection.query("""
                INSERT INTO competitors (id, user_id, youtube_channel_id) VALUES (\(id), \(userID), \(youtubeChannelID))
                """, logger: logger)
            guard let created = try await Self.select(where: "id", is: id, userID: userID, on: connection, logger: logger).first else {
                throw DomainError(.notFound, "The competitor vanished")
            }
            return (created, true)
        }
    }

    /// Stops following; false when it was not the user's.
    public func remove(id: String, userID: String) async throws -> Bool {
        let rows = try await client.query("DELETE FROM competitors WHERE id = \(id) AND user_id = \(userID) RETURNING 1", logger: logger)
        for try await _ in rows { return true }
        return false
    }

    public func list(userID: String) async throws -> [Competitor] {
        try await client.withConnection { try await Self.select(where: "user_id", is: userID, userID: userID, on: $0, logger: logger) }
    }

    private static func select(where column: String, is value: String, userID: String, on connection: PostgresConnection,
                               logger: Logger) async throws -> [Competitor] {
        let rows = try await connection.query("""
            SELECT id, youtube_channel_id, title, status, created_at FROM competitors
             WHERE \(unescaped: column) = \(value) AND user_id = \(userID) ORDER BY created_at, id
            """, logger: logger)
        var found: [Competitor] = []
        for try await (id, channel, title, status, created) in rows.decode((String, String, String?, String, Date).self) {
            found.append(Competitor(id: id, youtubeChannelID: channel, title: title,
                                    status: try DatabaseValue.decode(status, column: "competitors.status"), createdAt: created))
        }
        return found
    }

    /// Claims the user's competitors without a snapshot on `day` (Pacific) for 5 minutes, so
    /// concurrent syncs and requests fetch each once; a channel YouTube did not know is looked
    /// up again a day later.
    public func claimDue(userID: String, day: String) async throws -> [(id: String, youtubeChannelID: String)] {
        let rows = try await client.query("""
            UPDATE competitors c SET fetching_until = now() + interval '5 minutes'
             WHERE c.user_id = \(userID)
               AND NOT EXISTS (SELECT 1 FROM competitor_snapshots s WHERE s.competitor_id = c.id AND s.day = \(day)::date)
               AND (c.fetching_until IS NULL OR c.fetching_until < now())
            RETURNING c.id, c.youtube_channel_id
            """, logger: logger)
        var due: [(String, String)] = []
        for try await row in rows.decode((String, String).self) { due.append(row) }
        return due.sorted { $0.0 < $1.0 }
    }

    /// Gives claims back (their fetch failed): the next sync tries again.
    public func release(ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await client.query("UPDATE competitors SET fetching_until = NULL WHERE id = ANY(\(ids))", logger: logger)
    }

    /// One competitor's figures on `day`, as `channels.list` and its uploads showed them.
    public struct Snapshot: Sendable {
        public var competitorID: String
        public var channel: YouTubePublicChannel
        /// Views of its newest uploads (up to 50).
        public var recentViews: [Int64]
        /// Its uploads in the 28 days before the snapshot.
        public var uploadsIn28Days: Int

        public init(competitorID: String, channel: YouTubePublicChannel, recentViews: [Int64], uploadsIn28Days: Int) {
            self.competitorID = competitorID
            self.channel = channel
            self.recentViews = recentViews
            self.uploadsIn28Days = uploadsIn28Days
        }

        /// The median of `recentViews` (the lower middle value for an even count, as
        /// `percentile_disc(0.5)`); nil when there are none.
        public var medianViews: Int64? {
            let sorted = recentViews.sorted()
            return sorted.isEmpty ? nil : sorted[(sorted.count - 1) / 2]
        }
    }

    /// Stores snapshots (a later one the same day replaces it; a competitor removed meanwhile
    /// is skipped) and marks ids YouTube did not know, to look them up again in a day.
    public func record(day: String, snapshots: [Snapshot], notFound: [String]) async throws {
        try await client.withTransaction(logger: logger) { connection in
            for snapshot in snapshots {
                let channel = snapshot.channel
                try await connection.query("""
                    INSERT INTO competitor_snapshots (competitor_id, day, subscribers, views, video_count, uploads_28d, recent_videos, median_views)
                    SELECT id, \(day)::date, \(channel.subscribers), \(channel.views), \(channel.videoCount),
                           \(Int32(clamping: snapshot.uploadsIn28Days)), \(Int32(clamping: snapshot.recentViews.count)), \(snapshot.medianViews)
                      FROM competitors WHERE id = \(snapshot.competitorID)
                    ON CONFLICT (competitor_id, day) DO UPDATE SET
                        subscribers = excluded.subscribers, views = excluded.views, video_count = excluded.video_count,
                        uploads_28d = excluded.uploads_28d, recent_videos = excluded.recent_videos, median_views = excluded.median_views,
                        taken_at = now()
                    """, logger: logger)
                try await connection.query("""
                    UPDATE competitors SET title = \(channel.title), uploads_playlist = \(channel.uploadsPlaylist), status = 'active',
                           fetching_until = NULL
                     WHERE id = \(snapshot.competitorID)
                    """, logger: logger)
            }
            if !notFound.isEmpty {
                try await connection.query("""
                    UPDATE competitors SET status = 'not_found', fetching_until = now() + interval '1 day' WHERE id = ANY(\(notFound))
                    """, logger: logger)
            }
        }
    }

    /// The user's channels and competitors side by side over the last `days` days up to `day`:
    /// the latest figures of each, the subscriber change within the window, uploads per week
    /// over the last 28 days and the median views of recent uploads.
    public func comparison(userID: String, day: String, days: Int, now: Date = Date()) async throws
        -> (own: [ComparedChannel], competitors: [ComparedChannel]) {
        let rows = try await client.query("""
            SELECT c.id, c.youtube_channel_id, coalesce(c.title, c.youtube_channel_id), c.status,
                   to_char(l.day, 'YYYY-MM-DD'), l.subscribers, l.views, l.video_count, l.uploads_28d, l.recent_videos, l.median_views,
                   l.subscribers - f.subscribers
              FROM competitors c
              LEFT JOIN LATERAL (SELECT * FROM competitor_snapshots s WHERE s.competitor_id = c.id AND s.day <= \(day)::date
                                  ORDER BY s.day DESC LIMIT 1) l ON true
              LEFT JOIN LATERAL (SELECT s.subscribers, s.day FROM competitor_snapshots s
                                  WHERE s.competitor_id = c.id AND s.day > \(day)::date - \(Int32(clamping: days)) AND s.day < l.day
                                  ORDER BY s.day LIMIT 1) f ON true
             WHERE c.user_id = \(userID) ORDER BY c.created_at, c.id
            """, logger: logger)
        var competitors: [ComparedChannel] = []
        for try await (id, channel, title, status, latest, subscribers, views, videos, uploads, recent, median, change)
            in rows.decode((String, String, String, String, String?, Int64?, Int64?, Int64?, Int32?, Int32?, Int64?, Int64?).self) {
            let figures = latest.map { latest in
                CompetitorFigures(day: latest, subscribers: subscribers ?? 0, views: views ?? 0, videoCount: videos ?? 0, subscriberChange: change,
                                  uploadsPerWeek: Double(uploads ?? 0) / 4, medianViews: median, recentVideos: Int(recent ?? 0))
            }
            competitors.append(ComparedChannel(id: id, youtubeChannelID: channel, title: title,
                                               status: try DatabaseValue.decode(status, column: "competitors.status"), figures: figures))
        }
        // The user's channels, from their own snapshots and publications, measured the same way.
        let own = try await client.query("""
            SELECT ch.id, ch.youtube_channel_id, ch.name, to_char(l.day, 'YYYY-MM-DD'), l.subscribers, l.views, l.video_count,
                   l.subscribers - f.subscribers,
                   (SELECT count(*) FROM publications p JOIN videos v ON v.id = p.video_id
                     WHERE v.channel_id = ch.id AND p.status = 'published' AND p.published_at >= \(now)::timestamptz - interval '28 days'),
                   r.n, r.median
              FROM channels ch
              LEFT JOIN LATERAL (SELECT * FROM channel_snapshots s WHERE s.channel_id = ch.id AND s.day <= \(day)::date
                                  ORDER BY s.day DESC LIMIT 1) l ON true
              LEFT JOIN LATERAL (SELECT s.subscribers FROM channel_snapshots s
                                  WHERE s.channel_id = ch.id AND s.day > \(day)::date - \(Int32(clamping: days)) AND s.day < l.day
                                  ORDER BY s.day LIMIT 1) f ON true
              LEFT JOIN LATERAL (
                  SELECT count(*)::int4 AS n, (percentile_disc(0.5) WITHIN GROUP (ORDER BY latest.views))::int8 AS median
                    FROM (SELECT v.id FROM videos v JOIN publications p ON p.video_id = v.id AND p.status = 'published'
                           WHERE v.channel_id = ch.id ORDER BY p.published_at DESC LIMIT 50) recent
                    CROSS JOIN LATERAL (SELECT vs.views FROM video_snapshots vs WHERE vs.video_id = recent.id
                                         ORDER BY vs.day DESC LIMIT 1) latest) r ON true
             WHERE ch.user_id = \(userID) ORDER BY ch.created_at, ch.id
            """, logger: logger)
        var mine: [ComparedChannel] = []
        for try await (id, youtubeID, name, latest, subscribers, views, videos, change, published, recent, median)
            in own.decode((String, String?, String, String?, Int64?, Int64?, Int64?, Int64?, Int64, Int32?, Int64?).self) {
            let figures = latest.map { latest in
                CompetitorFigures(day: latest, subscribers: subscribers ?? 0, views: views ?? 0, videoCount: videos ?? 0, subscriberChange: change,
                                  uploadsPerWeek: Double(published) / 4, medianViews: median, recentVideos: Int(recent ?? 0))
            }
            mine.append(ComparedChannel(id: id, youtubeChannelID: youtubeID, title: name, status: figures == nil ? .pending : .active,
                                        figures: figures))
        }
        return (mine, competitors)
    }
}
