import Foundation

/// What a client asks for when it submits a video, validated, with the defaults filled in.
public struct VideoRequest: Sendable, Equatable, Codable {
    public static let scriptStyles = ["informative", "entertaining", "educational", "storytelling", "review", "tutorial"]
    public static let thumbnailStyles = ["modern", "minimal", "bold", "classic"]

    public var channelID: String
    public var title: String
    public var description: String
    public var scriptStyle: String
    public var voiceID: String
    public var thumbnailStyle: String
    /// Target length in seconds (10 to 3600).
    public var durationTarget: Int
    public var keywords: [String]
    public var costLimit: Money
    /// The lowest acceptable quality score (0-100).
    public var qualityThreshold: Int

    /// Validates each field; `field` in the error names the one at fault (with `prefix`, e.g.
    /// `videos[3].`, for batch items).
    public init(channelID: String, title: String, description: String?, scriptStyle: String?, voiceID: String?,
                thumbnailStyle: String?, durationTarget: Int?, keywords: [String]?, costLimit: Double?,
                qualityThreshold: Int?, defaultCostLimit: Double, fieldPrefix prefix: String = "") throws {
        func invalid(_ field: String, _ message: String) -> DomainError {
            DomainError(.invalid, "\(prefix)\(field) \(message)", field: prefix + field)
        }
        guard channelID.count <= 64, !channelID.isEmpty else { throw invalid("channel_id", "is required") }
        let title = title.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(title.count) else { throw invalid("title", "must be 1 to 100 characters") }
        let description = description ?? ""
        guard description.count <= 5000 else { throw invalid("description", "is at most 5000 characters") }
        let scriptStyle = scriptStyle ?? "informative"
        guard Self.scriptStyles.contains(scriptStyle) else {
            throw invalid("script_style", "must be one of \(Self.scriptStyles.joined(separator: ", "))")
        }
        let voiceID = voiceID ?? "voice_professional_male"
        guard (1...64).contains(voiceID.count), voiceID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw invalid("voice_id", "must be 1 to 64 letters, digits, '-' or '_'")
        }
        let thumbnailStyle = thumbnailStyle ?? "modern"
        guard Self.thumbnailStyles.contains(thumbnailStyle) else {
            throw invalid("thumbnail_style", "must be one of \(Self.thumbnailStyles.joined(separator: ", "))")
        }
        let duration = durationTarget ?? 600
        guard (10...3600).contains(duration) else { throw invalid("duration_target", "must be between 10 and 3600 seconds") }
        let keywords = keywords ?? []
        guard keywords.count <= 30 else { throw invalid("keywords", "has at most 30 entries") }
        for keyword in keywords where keyword.isEmpty || keyword.count > 50 {
            throw invalid("keywords", "entries must be 1 to 50 characters")
        }
        let limit = costLimit ?? defaultCostLimit
        guard limit.isFinite, (0...1000).contains(limit) else { throw invalid("cost_limit", "must be between 0 and 1000 dollars") }
        let threshold = qualityThreshold ?? 70
        guard (0...100).contains(threshold) else { throw invalid("quality_threshold", "must be between 0 and 100") }
        self.channelID = channelID
        self.title = title
        self.description = description
        self.scriptStyle = scriptStyle
        self.voiceID = voiceID
        self.thumbnailStyle = thumbnailStyle
        self.durationTarget = duration
        self.keywords = keywords
        self.costLimit = Money(dollars: limit)
        self.qualityThreshold = threshold
    }
}

/// A video's lifecycle: `processing` until the pipeline ends in `completed`, `failed` or
/// `cancelled`; publishing moves a completed video through `publishing` (or `waiting_quota`
/// until the quota resets) to `published`.
public enum VideoStatus: String, Sendable, CaseIterable, Codable {
    case processing, completed, failed, cancelled, publishing, published
    case waitingQuota = "waiting_quota"

    public var isFinished: Bool { self != .processing }
}

/// What a row of `videos` produces: a whole video, or one asset (a processing task).
public enum VideoKind: String, Sendable, CaseIterable, Codable {
    case video, script, voice, thumbnail

    /// The stages it runs.
    public var stages: [PipelineStage] {
        switch self {
        case .video: PipelineStage.allCases
        case .script: [.script]
        case .voice: [.voice]
        case .thumbnail: [.thumbnail]
        }
    }
}

/// A video as clients see it.
public struct Video: Sendable, Equatable {
    public var id: String
    public var kind: VideoKind
    /// The text a voice task speaks.
    public var inputText: String?
    public var channelID: String
    public var batchID: String?
    public var request: VideoRequest
    public var status: VideoStatus
    public var stage: String?
    public var progress: Int
    public var estimatedCost: Money
    public var spent: Money
    public var reserved: Money
    public var qualityScore: Int?
    /// The score's parts as JSON, once reviewed.
    public var quality: String?
    public var regeneratedStage: String?
    public var errorCode: String?
    public var errorMessage: String?
    public var tags: [String]
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// Set once the video is on YouTube.
    public var youtubeVideoID: String?
    public var publishedAt: Date?
    public var stages: [StageRecord]
    public var artifacts: [Artifact]
}

/// One stage of one video: where it is, who produced it and what it cost.
public struct StageRecord: Sendable, Equatable {
    public var stage: PipelineStage
    public var status: StageStatus
    public var attempt: Int
    public var provider: String?
    public var model: String?
    public var cost: Money
    public var error: String?
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A stored output of a stage.
public struct Artifact: Sendable, Equatable {
    public var kind: ArtifactKind
    public var storageKey: String
    public var contentType: String
    public var sizeBytes: Int64
    public var durationSeconds: Double?

    public init(kind: ArtifactKind, storageKey: String, contentType: String, sizeBytes: Int64, durationSeconds: Double?) {
        self.kind = kind
        self.storageKey = storageKey
        self.contentType = contentType
        self.sizeBytes = sizeBytes
        self.durationSeconds = durationSeconds
    }
}
