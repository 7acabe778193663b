import Foundation
import Logging
import PostgresNIO
import Queue

/// Reads of videos and batches, always scoped to the owning user.
public struct VideoRepository: Sendable {
    public let client: PostgresClient
    public let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The columns `decode` reads, by name.
    static let columns = """
        v.id, v.channel_id, v.batch_id, v.title, v.description, v.script_style, v.voice_id, v.thumbnail_style, v.duration_target, \
        v.keywords, v.cost_limit, v.quality_threshold, v.status, v.stage, v.progress, v.estimated_cost, v.spent, v.reserved, \
        v.quality_score, v.quality::text AS quality, v.regenerated_stage, v.error_code, v.error_message, v.tags, v.created_at, v.updated_at, \
        v.finished_at, v.kind, v.input_text, v.youtube_video_id, v.published_at
        """

    /// Decodes a row selected with `columns` (other columns may follow).
    static func decode(_ row: PostgresRow) throws -> Video {
        let c = NamedRow(row)
        var request = try VideoRequest(channelID: c("channel_id"), title: c("title"), description: c("description"),
                                       scriptStyle: c("script_style"), voiceID: c("voice_id"), thumbnailStyle: c("thumbnail_style"),
                                       durationTarget: Int(c("duration_target", as: Int32.self)), keywords: c("keywords"),
                                       costLimit: 0, qualityThreshold: Int(c("quality_threshold", as: Int32.self)), defaultCostLimit: 0)
        request.costLimit = Money(micros: try c("cost_limit"))
        return Video(id: try c("id"), kind: try DatabaseValue.decode(try c("kind"), column: "videos.kind"),
                     inputText: try c("input_text"), channelID: request.channelID, batchID: try c("batch_id"),
                     request: request, status: try DatabaseValue.decode(try c("status"), column: "videos.status"),
                     stage: try c("stage"), progress: Int(try c("progress", as: Int32.self)),
                     estimatedCost: Money(micros: try c("estimated_cost")), spent: Money(micros: try c("spent")),
                     reserved: Money(micros: try c("reserved")), qualityScore: try c("quality_score", as: Int32?.self).map(Int.init),
                     quality: try c("quality"), regeneratedStage: try c("regenerated_stage"),
                     errorCode: try c("error_code"), errorMessage: try c("error_message"),
                     tags: try c("tags"), createdAt: try c("created_at"), updatedAt: try c("updated_at"),
                     finishedAt: try c("finished_at"), youtubeVideoID: try c("youtube_video_id"),
                     publishedAt: try c("published_at"), stages: [], artifacts: [])
    }

    /// One of the user's videos with its stages and artifacts, or nil.
    public func video(id: String, userID: String) async throws -> Video? {
        let rows = try await client.query("SELECT \(unescaped: Self.columns) FROM videos v WHERE v.id = \(id) AND v.user_id = \(userID)",
                                          logger: logger)
        var found: Video?
        for try await row in rows { found = try Self.decode(row) }
        guard var video = found else { return nil }
        video.stages = try await stages(videoID: id)
        video.artifacts = try await artifacts(videoID: id)
        return video
    }

    /// A video for a stage to work on, whoever owns it (workers are not scoped to a user).
    public func videoForStage(id: String) async throws -> Video? {
        let rows = try await client.query("SELECT \(unescaped: Self.columns) FROM videos v WHERE v.id = \(id)", logger: logger)
        var found: Video?
        for try await row in rows { found = try Self.decode(row) }
        guard var video = found else { return nil }
        video.artifacts = try await artifacts(videoID: id)
        return video
    }

    /// The video's stage rows in pipeline order.
    public func stages(videoID: String) async throws -> [StageRecord] {
        let rows = try await client.query("""
            SELECT stage, status, attempt, provider, model, cost, error, started_at, finished_at FROM video_stages WHERE video_id = \(videoID)
            """, logger: logger)
        var records: [StageRecord] = []
        for try await (stage, status, attempt, provider, model, cost, error, started, finished)
            in rows.decode((String, String, Int32, String?, String?, Int64, String?, Date?, Date?).self) {
            let stage: PipelineStage = try DatabaseValue.decode(stage, column: "video_stages.stage")
            records.append(StageRecord(stage: stage, status: try DatabaseValue.decode(status, column: "video_stages.status"), attempt: Int(attempt), provider: provider, model: model,
                                       cost: Money(micros: cost), error: error, startedAt: started, finishedAt: finished))
        }
        let order = PipelineStage.allCases
        return records.sorted { (order.firstIndex(of: $0.stage) ?? 0) < (order.firstIndex(of: $1.stage) ?? 0) }
    }

    /// The video's stored outputs.
    public func artifacts(videoID: String) async throws -> [Artifact] {
        let rows = try await client.query("""
            SELECT kind, storage_key, content_type, size_bytes, duration_seconds FROM artifacts WHERE video_id = \(videoID) ORDER BY kind
            """, logger: logger)
        var artifacts: [Artifact] = []
        for try await (kind, key, type, size, duration) in rows.decode((String, String, String, Int64, Double?).self) {
            artifacts.append(Artifact(kind: try DatabaseValue.decode(kind, column: "artifacts.kind"), storageKey: key, contentType: type, sizeBytes: size, durationSeconds: duration))
        }
        return artifacts
    }

    /// Filters of the video list.
    public struct ListFilter: Sendable {
        public var channelID: String?
        public var status: VideoStatus?
        public var from: Date?
        public var to: Date?

        public init(channelID: String? = nil, status: VideoStatus? = nil, from: Date? = nil, to: Date? = nil) {
            self.channelID = channelID
            self.status = status
            self.from = from
            self.to = to
        }
    }

    /// A page of the user's videos, newest first, and how many match in all.
    public func list(userID: String, filter: ListFilter, offset: Int, limit: Int) async throws -> (videos: [Video], total: Int) {
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns), count(*) OVER () AS total FROM videos v
             WHERE v.user_id = \(userID)
               AND (\(filter.channelID)::text IS NULL OR v.channel_id = \(filter.channelID))
               AND (\(filter.status?.rawValue)::text IS NULL OR v.status = \(filter.status?.rawValue))
               AND (\(filter.from)::timestamptz IS NULL OR v.created_at >= \(filter.from))
               AND (\(filter.to)::timestamptz IS NULL OR v.created_at <= \(filter.to))
             ORDER BY v.created_at DESC, v.id OFFSET \(offset) LIMIT \(limit)
            """, logger: logger)
        var videos: [Video] = []
        var total = 0
        for try await row in rows {
            videos.append(try Self.decode(row))
            total = Int(try NamedRow(row)("total", as: Int64.self))
        }
        return (videos, total)
    }

    /// Changes a video's title, description or tags; nil when it is not the user's.
    public func updateMetadata(id: String, userID: String, title: String?, description: String?, tags: [String]?) async throws -> Video? {
        if let title, !(1...100).contains(title.trimmingCharacters(in: .whitespacesAndNewlines).count) {
            throw DomainError(.invalid, "title must be 1 to 100 characters", field: "title")
        }
        if let description, description.count > 5000 {
            throw DomainError(.invalid, "description is at most 5000 characters", field: "description")
        }
        if let tags, tags.count > 30 || tags.contains(where: { $0.isEmpty || $0.count > 50 }) {
            throw DomainError(.invalid, "tags has at most 30 entries of 1 to 50 characters", field: "tags")
        }
        let rows = try await client.query("""
            UPDATE videos SET title = coalesce(\(title?.trimmingCharacters(in: .whitespacesAndNewlines)), title),
                   description = coalesce(\(description), description), tags = coalesce(\(tags)::text[], tags), updated_at = now()
             WHERE id = \(id) AND user_id = \(userID)
            RETURNING id
            """, logger: logger)
        for try await _ in rows { return try await video(id: id, userID: userID) }
        return nil
    }

    /// This month's generated videos and the user's total spend, for the profile.
    public func usage(userID: String) async throws -> (videosThisMonth: Int, videosTotal: Int, totalCost: Money) {
        let rows = try await client.query("""
            SELECT count(*) FILTER (WHERE kind = 'video' AND created_at >= date_trunc('month', now())), count(*) FILTER (WHERE kind = 'video'),
                   coalesce(sum(spent), 0)::int8
              FROM videos WHERE user_id = \(userID)
            """, logger: logger)
        for try await (month, total, spent) in rows.decode((Int64, Int64, Int64).self) {
            return (Int(month), Int(total), Money(micros: spent))
        }
        return (0, 0, .zero)
    }
}

extension VideoRepository {
    /// The user's unfinished stages by stage and state, and how many videos and tasks are
    /// still processing.
    public func unfinishedWork(userID: String) async throws -> (processing: Int, stages: [(stage: PipelineStage, state: String, count: Int)]) {
        let rows = try await client.query("""
            SELECT s.stage, s.status, count(*) FROM video_stages s JOIN videos v ON v.id = s.video_id
             WHERE v.user_id = \(userID) AND v.status = 'processing' AND s.status IN ('pending', 'running')
             GROUP BY 1, 2 ORDER BY 1, 2
            """, logger: logger)
        var stages: [(stage: PipelineStage, state: String, count: Int)] = []
        for try await (stage, state, count) in rows.decode((String, String, Int64).self) {
            stages.append((try DatabaseValue.decode(stage, column: "video_stages.stage"), state, Int(count)))
        }
        let order = PipelineStage.allCases
        stages.sort { (order.firstIndex(of: $0.stage) ?? 0, $0.state) < (order.firstIndex(of: $1.stage) ?? 0, $1.state) }
        let counted = try await client.query("SELECT count(*) FROM videos WHERE user_id = \(userID) AND status = 'processing'", logger: logger)
        var processing = 0
        for try await count in counted.decode(Int64.self) { processing = Int(count) }
        return (processing, stages)
    }
}
