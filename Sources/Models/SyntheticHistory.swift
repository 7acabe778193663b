import Domain
import Foundation

/// SplitMix64: the same numbers for the same seed, on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The simulated history the tests and `ytempire bench models` train on (the offline providers
/// cost nothing, so a fresh system has no spend to learn from): finished videos whose real
/// cost is 0.002 $ per second of duration, plus 0.40 $ for reviews (0.10 $ otherwise), plus
/// uniform noise of ±0.05 $; and whose price-table estimate is 0.006 $/s + 1.20 $, or exactly
/// their cost with `baselineIsExact`. The same seed gives the same videos.
public enum SyntheticHistory {
    public struct Video: Sendable {
        public var durationTarget: Int
        public var scriptStyle: String
        public var spent: Money
        public var estimate: Money
    }

    public static func videos(count: Int, seed: UInt64, baselineIsExact: Bool = false) -> [Video] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let duration = Int.random(in: 60...900, using: &generator)
            let style = ["educational", "entertaining", "review"][Int.random(in: 0..<3, using: &generator)]
            let dollars = Double(duration) * 0.002 + (style == "review" ? 0.4 : 0.1) + Double.random(in: -0.05...0.05, using: &generator)
            let spent = Money(dollars: max(0, dollars))
            return Video(durationTarget: duration, scriptStyle: style, spent: spent,
                         estimate: baselineIsExact ? spent : Money(dollars: Double(duration) * 0.006 + 1.2))
        }
    }

    /// The videos as the cost estimator's examples, one an hour ending now.
    public static func costExamples(count: Int, seed: UInt64) -> [Example] {
        let start = Date().addingTimeInterval(-Double(count) * 3600)
        return videos(count: count, seed: seed).enumerated().map { index, video in
            let options = CostEstimator.Options(durationTarget: video.durationTarget, qualityThreshold: 70, scriptStyle: video.scriptStyle,
                                                thumbnailStyle: "modern", voiceID: "voice_professional_male", keywords: 0,
                                                titleLength: "Seeded video".count, worstCase: video.estimate)
            return Example(features: options.features, actual: video.spent.dollars, baseline: video.estimate.dollars,
                           at: start.addingTimeInterval(Double(index) * 3600))
        }
    }
}
