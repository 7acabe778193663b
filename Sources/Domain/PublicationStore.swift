import Foundation
import Logging
import PostgresNIO
import Queue

/// The arguments of a publish job.
public struct PublishJobArgs: Codable, Sendable, Equatable {
    public var videoID: String
    public var userID: String

    public init(videoID: String, userID: String) {
        self.videoID = videoID
        self.userID = userID
    }

    enum CodingKeys: String, CodingKey { case videoID = "video_id", userID = "user_id" }

    public static let kind = "video.publish"
    public static let queue = "video_publish"
}

/// What a publish attempt works from: the video, its files and where its upload stands.
public struct PublishWork: Sendable {
    public var videoID: String
    public var userID: String
    public var videoStatus: VideoStatus
    public var metadata: UploadMetadata
    /// The YouTube channel the user linked to the video's channel, if any.
    public var linkedChannelID: String?
    public var videoKey: String?
    public var videoSize: Int64
    public var thumbnailKey: String?
    public var thumbnailType: String
    public var accountID: String?
    public var sessionURI: String?
    public var youtubeVideoID: String?
    public var thumbnailDone: Bool
}

/// A publication as users see it.
public struct PublicationStatus: Sendable, Equatable {
    public var videoID: String
    public var status: PublicationState
    public var accountID: String?
    public var youtubeVideoID: String?
    public var waitingUntil: Date?
    public var error: String?
}

/// Publishing's writes. The upload's session URI is stored before its first byte goes out
/// and the YouTube id the moment it completes, each committed on its own, so whatever
/// crashes, a later attempt resumes or finishes that one upload and never starts a second.
public struct PublicationStore: Sendable {
    public let client: PostgresClient
    public let jobs: JobStore
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.jobs = JobStore(client: client, logger: logger)
        self.logger = logger
    }

    /// Queues a completed video for publishing (a retried request gets the same publication).
    /// - Throws: `notFound` for another user's video; `invalidState` for a video that is not
    ///   completed, is below its quality threshold, or when no YouTube account is connected.
    public func request(videoID: String, userID: String, privacy: String) async throws -> PublicationStatus {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                SELECT v.status, v.kind, v.quality_score, v.quality_threshold, v.youtube_video_id,
                       EXISTS (SELECT 1 FROM youtube_accounts a WHERE a.user_id = v.user_id AND a.status = 'active'),
                       EXISTS (SELECT 1 FROM artifacts a WHERE a.video_id = v.id AND a.kind = 'video')
                  FROM videos v WHERE v.id = \(videoID) AND v.user_id = \(userID) FOR UPDATE OF v
                """, logger: logger)
            var found: (String, String, Int32?, Int32, String?, Bool, Bool)?
            for try await row in rows.decode((String, String, Int32?, Int32, String?, Bool, Bool).self) { found = row }
            guard let (status, kind, score, threshold, youtubeID, hasAccount, hasFile) = found else {
                throw DomainError(.notFound, "No video \(videoID)")
            }
            if status == VideoStatus.publishing.rawValue || status == VideoStatus.waitingQuota.rawValue {
                return try await publication(videoID: videoID, on: connection)
            }
            if let youtubeID { throw DomainError(.invalidState, "The video is already published on YouTube as \(youtubeID)") }
            guard status == VideoStatus.completed.rawValue, kind == VideoKind.video.rawValue, hasFile else {
                throw DomainError(.invalidState, "Only completed videos can be published; this one is \(status)")
            }
            guard let score, score >= threshold else {
                throw DomainError(.invalidState, "The video's quality score \(score.map(String.init) ?? "none") is below its threshold \(threshold)")
            }
            guard hasAccount else { throw DomainError(.invalidState, "Connect a YouTube account first (POST /youtube/oauth/connect)") }
            let job = try NewJob(kind: PublishJobArgs.kind, encoding: PublishJobArgs(videoID: videoID, userID: userID),
                                 queue: PublishJobArgs.queue, maxAttempts: 10, uniqueKey: "publish:\(videoID)",
                                 uniqueStates: NewJob.unfinishedStates, owner: userID)
            let inserted = try await jobs.insert([job], on: connection)
            // A publication that failed before keeps its session, so publishing again resumes it.
            try await connection.query("""
                INSERT INTO publications (video_id, user_id, privacy_status, job_id) VALUES (\(videoID), \(userID), \(privacy), \(inserted[0].id))
                ON CONFLICT (video_id) DO UPDATE SET status = 'queued', privacy_status = excluded.privacy_status, job_id = excluded.job_id,
                       error = NULL, waiting_until = NULL, updated_at = now()
                """, logger: logger)
            try await setVideo(videoID, status: .publishing, on: connection)
            return try await publication(videoID: videoID, on: connection)
        }
    }

    /// The video's publication, if it was ever asked for.
    public func publication(videoID: String, on executor: (any PostgresExecutor)? = nil) async throws -> PublicationStatus {
        let rows = try await (executor ?? client).run("""
            SELECT status, account_id, youtube_video_id, waiting_until, error FROM publications WHERE video_id = \(videoID)
            """, logger: logger)
        for try await (status, account, youtubeID, waiting, error) in rows.decode((String, String?, String?, Date?, String?).self) {
            return PublicationStatus(videoID: videoID, status: try DatabaseValue.decode(status, column: "publications.status"), accountID: account, youtubeVideoID: youtubeID, waitingUntil: waiting, error: error)
        }
        throw DomainError(.notFound, "The video \(videoID) has no publication")
    }

    /// What an attempt needs, or nil when the video or its publication is gone.
    public func work(videoID: String) async throws -> PublishWork? {
        let rows = try await client.query("""
            SELECT v.user_id, v.status, v.title, v.description, v.tags, p.privacy_status, c.youtube_channel_id,
                   f.storage_key AS video_key, coalesce(f.size_bytes, 0) AS video_size, t.storage_key AS thumbnail_key,
                   coalesce(t.content_type, 'image/png') AS thumbnail_type,
                   p.account_id, p.session_uri, p.youtube_video_id, p.thumbnail_set_at IS NOT NULL AS thumbnail_done
              FROM videos v JOIN publications p ON p.video_id = v.id JOIN channels c ON c.id = v.channel_id
              LEFT JOIN artifacts f ON f.video_id = v.id AND f.kind = 'video'
              LEFT JOIN artifacts t ON t.video_id = v.id AND t.kind = 'thumbnail'
             WHERE v.id = \(videoID)
            """, logger: logger)
        for try await row in rows {
            let c = NamedRow(row)
            let title: String = try c("title"), description: String = try c("description")
            return PublishWork(videoID: videoID, userID: try c("user_id"),
                               videoStatus: try DatabaseValue.decode(try c("status", as: String.self), column: "videos.status"),
                               metadata: UploadMetadata(title: String(title.prefix(100)), description: String(description.prefix(5000)),
                                                        tags: try c("tags"), privacyStatus: try c("privacy_status")),
                               linkedChannelID: try c("youtube_channel_id"), videoKey: try c("video_key"), videoSize: try c("video_size"),
                               thumbnailKey: try c("thumbnail_key"), thumbnailType: try c("thumbnail_type"), accountID: try c("account_id"),
                               sessionURI: try c("session_uri"), youtubeVideoID: try c("youtube_video_id"), thumbnailDone: try c("thumbnail_done"))
        }
        return nil
    }

    /// A new upload on `reservation`'s account: any earlier session is forgotten (it expired).
    public func assign(videoID: String, reservation: QuotaReservation) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                UPDATE publications SET account_id = \(reservation.accountID), status = 'uploading', session_uri = NULL, upload_size = NULL,
                       bytes_sent = 0, waiting_until = NULL, attempts = attempts + 1, updated_at = now()
                 WHERE video_id = \(videoID)
                """, logger: logger)
            try await setVideo(videoID, status: .publishing, on: connection)
        }
    }

    /// Stores the session URI before any byte is sent.
    public func recordSession(videoID: String, uri: String, size: Int64) async throws {
        try await client.query("""
            UPDATE publications SET session_uri = \(uri), upload_size = \(size), updated_at = now() WHERE video_id = \(videoID)
            """, logger: logger)
    }

    /// Stores the YouTube id the moment the upload completes.
    public func recordUpload(videoID: String, youtubeVideoID: String, size: Int64) async throws {
        try await client.query("""
            UPDATE publications SET youtube_video_id = \(youtubeVideoID), bytes_sent = \(size), updated_at = now() WHERE video_id = \(videoID)
            """, logger: logger)
    }

    public func recordThumbnail(videoID: String) async throws {
        try await client.query("UPDATE publications SET thumbnail_set_at = now(), updated_at = now() WHERE video_id = \(videoID)", logger: logger)
    }

    /// Ends a publication: the video is `published` with its YouTube id, `video.published`
    /// goes to the outbox, and the job completes, all in one transaction.
    /// - Throws: `StageLostError` when the job is no longer this worker's.
    public func finish(videoID: String, lease: JobLease) async throws {
        try await client.withRetryingTransaction(logger: logger) { connection in
            let locked = try await connection.query("SELECT 1 FROM videos WHERE id = \(videoID) FOR UPDATE", logger: logger)
            for try await _ in locked {}
            guard try await jobs.complete(lease, on: connection) else { throw StageLostError(jobID: lease.jobID) }
            let rows = try await connection.query("""
                WITH p AS (
                    UPDATE publications SET status = 'published', published_at = now(), updated_at = now()
                     WHERE video_id = \(videoID) AND youtube_video_id IS NOT NULL
                    RETURNING video_id, youtube_video_id, account_id
                )
                UPDATE videos v SET status = 'published', youtube_video_id = p.youtube_video_id, published_at = now(),
                       error_code = NULL, error_message = NULL, updated_at = now()
                  FROM p WHERE v.id = p.video_id
                RETURNING v.user_id, v.channel_id, p.youtube_video_id, p.account_id
                """, logger: logger)
            for try await (userID, channelID, youtubeID, accountID) in rows.decode((String, String, String, String?).self) {
                var data: [String: any Sendable] = ["video_id": videoID, "channel_id": channelID, "youtube_video_id": youtubeID,
                                                    "url": "https://www.youtube.com/watch?v=\(youtubeID)"]
                if let accountID { data["account_id"] = accountID }
                try await DomainEvents.record(type: "video.published", userID: userID, data: DomainEvents.json(data), on: connection, logger: logger)
                try await DomainEvents.publishVideo(videoID, type: "video.published", on: connection, logger: logger)
            }
        }
    }

    /// No account has room: the video waits for the quota reset (`quota.exhausted` is written
    /// once per user and Pacific day).
    public func wait(videoID: String, until resetsAt: Date, now: Date = Date()) async throws {
        try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE publications SET status = 'waiting_quota', waiting_until = \(resetsAt), updated_at = now()
                 WHERE video_id = \(videoID) RETURNING user_id
                """, logger: logger)
            var owner: String?
            for try await userID in rows.decode(String.self) { owner = userID }
            guard let owner else { return }
            try await setVideo(videoID, status: .waitingQuota, on: connection)
            let day = QuotaDay.of(now)
            // Publications waiting at once take turns here, so the check below sees the others' event.
            try await AdvisoryLock.quotaExhaustedNotice.lock(owner + "|" + day, on: connection, logger: logger)
            try await connection.query("""
                INSERT INTO domain_events (id, user_id, type, data)
                SELECT \(PrefixedID.make("evt_")), \(owner), 'quota.exhausted',
                       jsonb_build_object('day', \(day)::text, 'resets_at', \(resetsAt), 'video_id', \(videoID)::text)
                 WHERE NOT EXISTS (SELECT 1 FROM domain_events WHERE user_id = \(owner) AND type = 'quota.exhausted' AND data->>'day' = \(day))
                """, logger: logger)
        }
    }

    /// Gives up: the video stays completed with the reason.
    /// - Parameter job: this worker's job to complete in the same transaction, if any.
    public func fail(videoID: String, message: String, completing job: JobLease? = nil) async throws {
        try await client.withRetryingTransaction(logger: logger) { connection in
            let locked = try await connection.query("SELECT 1 FROM videos WHERE id = \(videoID) FOR UPDATE", logger: logger)
            for try await _ in locked {}
            if let job, !(try await jobs.complete(job, on: connection)) { throw StageLostError(jobID: job.jobID) }
            try await connection.query("""
                UPDATE publications SET status = 'failed', error = \(message), updated_at = now() WHERE video_id = \(videoID)
                """, logger: logger)
            try await connection.query("""
                UPDATE videos SET status = 'completed', error_code = 'publish_failed', error_message = \(message), updated_at = now()
                 WHERE id = \(videoID) AND status IN ('publishing', 'waiting_quota')
                """, logger: logger)
        }
    }

    /// Wakes the publications waiting for a quota reset that has come (`now` injectable), so
    /// they run at once rather than at their scheduled time.
    /// - Returns: how many jobs were woken.
    public func wakeWaiting(now: Date = Date()) async throws -> Int {
        let rows = try await client.query("""
            SELECT coalesce(array_agg(job_id), '{}') FROM publications
             WHERE status = 'waiting_quota' AND waiting_until <= \(now) AND job_id IS NOT NULL
            """, logger: logger)
        var ids: [Int64] = []
        for try await found in rows.decode([Int64].self) { ids = found }
        return try await jobs.runNow(ids: ids)
    }

    private func setVideo(_ videoID: String, status: VideoStatus, on connection: PostgresConnection) async throws {
        try await connection.query("UPDATE videos SET status = \(status.rawValue), updated_at = now() WHERE id = \(videoID)", logger: logger)
        try await DomainEvents.publishVideo(videoID, type: "video.progress", on: connection, logger: logger)
    }
}
