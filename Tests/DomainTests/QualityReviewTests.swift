import Domain
import Testing

@Suite struct QualityReviewTests {
    func request(duration: Int = 60, keywords: [String] = ["swift", "postgres"]) throws -> VideoRequest {
        try VideoRequest(channelID: "ch_x", title: "Queues", description: nil, scriptStyle: nil, voiceID: nil, thumbnailStyle: nil,
                         durationTarget: duration, keywords: keywords, costLimit: 1, qualityThreshold: 80, defaultCostLimit: 1)
    }

    @Test func perfectArtifactsScore100() throws {
        let request = try request()
        let script = Array(repeating: "swift postgres", count: 75).joined(separator: " ")  // 150 words = 60 s
        let review = QualityReview(request: request, script: script, audioSeconds: 60, thumbnailSize: (1280, 720))
        #expect(review.score == 100)
        #expect(review.verdict(threshold: 85, canRegenerate: true) == .passed)
    }

    @Test func theWeakestStageIsRedoneOnceThenTheVideoFails() throws {
        let request = try request()
        let script = Array(repeating: "swift postgres", count: 75).joined(separator: " ")
        let review = QualityReview(request: request, script: script, audioSeconds: 20, thumbnailSize: (1280, 720))
        #expect(review.audioDuration == 33)
        #expect(review.weakestStage == .voice)
        #expect(review.verdict(threshold: 85, canRegenerate: true) == .regenerate(.voice))
        #expect(review.verdict(threshold: 85, canRegenerate: false) == .failed)
    }

    @Test func missingKeywordsAndThumbnailLowerTheScore() throws {
        let request = try request()
        let script = Array(repeating: "word", count: 150).joined(separator: " ")
        let review = QualityReview(request: request, script: script, audioSeconds: 60, thumbnailSize: nil)
        #expect(review.keywordCoverage == 0)
        #expect(review.thumbnail == 0)
        #expect(review.score == 55)
        #expect(review.weakestStage == .script)
    }
}
