import Foundation

/// The review stage's score: measurable properties of the artifacts, 0-100 each, weighted.
public struct QualityReview: Sendable, Equatable, Codable {
    /// Script length against the words the target duration needs.
    public var scriptLength: Int
    /// Narration length against the target duration.
    public var audioDuration: Int
    /// The thumbnail exists at a legible size (1280×720 or more scores 100).
    public var thumbnail: Int
    /// Share of the requested keywords the script mentions.
    public var keywordCoverage: Int
    public var score: Int

    enum CodingKeys: String, CodingKey {
        case scriptLength = "script_length", audioDuration = "audio_duration", thumbnail, keywordCoverage = "keyword_coverage", score
    }

    /// Scores the measured properties of a video.
    /// - Parameters:
    ///   - thumbnailSize: nil when there is no thumbnail.
    public init(request: VideoRequest, script: String, audioSeconds: Double, thumbnailSize: (width: Int, height: Int)?) {
        let words = script.split(whereSeparator: \.isWhitespace).count
        let targetWords = max(1, UsageModel.targetWords(durationSeconds: request.durationTarget))
        scriptLength = Self.closeness(Double(words), to: Double(targetWords))
        audioDuration = Self.closeness(audioSeconds, to: Double(request.durationTarget))
        if let size = thumbnailSize {
            let ratio = min(1, min(Double(size.width) / 1280, Double(size.height) / 720))
            thumbnail = Int((ratio * 100).rounded())
        } else {
            thumbnail = 0
        }
        if request.keywords.isEmpty {
            keywordCoverage = 100
        } else {
            let lower = script.lowercased()
            let covered = request.keywords.filter { lower.contains($0.lowercased()) }.count
            keywordCoverage = Int((Double(covered) / Double(request.keywords.count) * 100).rounded())
        }
        score = Int((Double(scriptLength) * 0.25 + Double(audioDuration) * 0.30 + Double(thumbnail) * 0.20
                     + Double(keywordCoverage) * 0.25).rounded())
    }

    /// 100 when equal, falling by a point per percent of difference, never below 0.
    static func closeness(_ value: Double, to target: Double) -> Int {
        guard target > 0 else { return 0 }
        let off = abs(value - target) / target
        return max(0, Int((100 - off * 100).rounded()))
    }

    /// The stage whose output scored lowest: the one worth redoing.
    public var weakestStage: PipelineStage {
        let script = min(scriptLength, keywordCoverage)
        if script <= audioDuration && script <= thumbnail { return .script }
        return audioDuration <= thumbnail ? .voice : .thumbnail
    }

    /// The verdict for a threshold: pass, redo the weakest stage once (when `canRegenerate`),
    /// or fail.
    public func verdict(threshold: Int, canRegenerate: Bool) -> ReviewVerdict {
        if score >= threshold { return .passed }
        return canRegenerate ? .regenerate(weakestStage) : .failed
    }

    public var json: String {
        (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? "{}"
    }
}
