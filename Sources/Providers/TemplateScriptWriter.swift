import Domain
import Foundation

/// The offline script writer: a real narration built from the title, description, keywords
/// and style, sized to the target duration (about 150 spoken words a minute). Deterministic
/// for a given request, so runs are reproducible.
public struct TemplateScriptWriter: ScriptWriter {
    public init() {}

    static let openers: [String: String] = [
        "informative": "Today we look closely at %@.",
        "entertaining": "Get ready, because %@ is more fun than you think.",
        "educational": "In this lesson we learn about %@, step by step.",
        "storytelling": "Let me tell you a story about %@.",
        "review": "This is our honest review of %@.",
        "tutorial": "In this tutorial you will learn %@ from the start.",
    ]

    static let body = [
        "When it comes to %@, the details matter more than most people expect.",
        "A good way to think about %@ is to start with what problem it solves.",
        "Many viewers ask us about %@, so here is what we found.",
        "The first thing to notice about %@ is how it fits into everyday life.",
        "Experts often point out that %@ rewards patience and practice.",
        "If you remember one thing about %@, remember that simple choices add up.",
        "Let us compare %@ with the alternatives and see where it stands.",
        "There is a common myth about %@ that deserves a closer look.",
        "Here is a practical tip about %@ that you can use right away.",
        "Looking ahead, %@ is likely to keep changing, and that is exciting.",
    ]

    public func writeScript(_ request: ScriptRequest, model: String) async throws -> GeneratedScript {
        let video = request.video
        let target = UsageModel.targetWords(durationSeconds: video.durationTarget)
        let topics = video.keywords.isEmpty ? [video.title] : video.keywords
        let closing = target >= 100
            ? "Thanks for watching. If you enjoyed this video about \(video.title), like it and subscribe for more."
            : "Thanks for watching."
        // Always said: the opener, and every keyword once.
        var sentences = [(Self.openers[video.scriptStyle] ?? "Today we talk about %@.").replacingOccurrences(of: "%@", with: video.title)]
        for (index, topic) in topics.enumerated() {
            sentences.append(Self.body[index % Self.body.count].replacingOccurrences(of: "%@", with: topic))
        }
        var words = sentences.reduce(0) { $0 + Self.wordCount($1) }
        let budget = target - Self.wordCount(closing)
        // Then the description and more on each topic while they fit the spoken length.
        var extra: [String] = []
        if !video.description.isEmpty { extra.append(video.description.hasSuffix(".") ? video.description : video.description + ".") }
        var index = topics.count
        while words < budget {
            try Task.checkCancellation()
            let sentence = extra.isEmpty
                ? Self.body[index % Self.body.count].replacingOccurrences(of: "%@", with: topics[(index / Self.body.count + index) % topics.count])
                : extra.removeFirst()
            let count = Self.wordCount(sentence)
            // Stop rather than overshoot by more than half a sentence.
            if words + count > budget + count / 2 { break }
            sentences.append(sentence)
            words += count
            index += 1
        }
        sentences.append(closing)
        let text = sentences.joined(separator: " ")
        return GeneratedScript(text: text, usage: Usage(["character": Double(UsageModel.billableCharacters(text))]))
    }

    static func wordCount(_ text: String) -> Int { text.split(whereSeparator: \.isWhitespace).count }
}
