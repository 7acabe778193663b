import Foundation

/// A provider and model that can run a stage, e.g. `openai`/`gpt-4o-mini`.
public struct ProviderChoice: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var provider: String
    public var model: String

    public init(provider: String, model: String) {
        self.provider = provider
        self.model = model
    }

    /// Parses `provider/model`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw DomainError(.invalid, "a provider is written provider/model, e.g. openai/gpt-4o-mini; got '\(text)'")
        }
        self.init(provider: String(parts[0]), model: String(parts[1]))
    }

    public var description: String { "\(provider)/\(model)" }
}

/// Units a call consumes, by what is counted (`token_in`, `character`, `image`, …).
public struct Usage: Sendable, Equatable {
    public var units: [String: Double]

    public init(_ units: [String: Double]) { self.units = units }
}

/// The price of a usage under one provider: the amount and the lines it came from.
public struct CostQuote: Sendable, Equatable {
    public var choice: ProviderChoice
    public var usage: Usage
    public var amount: Money
    /// The dominant unit and its count and price, for the ledger row.
    public var unit: String
    public var units: Double
    public var unitPrice: Double

    public init(choice: ProviderChoice, usage: Usage, amount: Money, unit: String, units: Double, unitPrice: Double) {
        self.choice = choice
        self.usage = usage
        self.amount = amount
        self.unit = unit
        self.units = units
        self.unitPrice = unitPrice
    }
}

/// Which providers run each stage (preferred first, cheaper fallbacks after) and what they
/// cost. The same plan prices a submission in the API and each paid call in the workers.
public struct PipelinePlan: Sendable, Equatable {
    public var script: [ProviderChoice]
    public var voice: [ProviderChoice]
    public var thumbnail: [ProviderChoice]
    public var prices: PriceTable

    public init(script: [ProviderChoice], voice: [ProviderChoice], thumbnail: [ProviderChoice], prices: PriceTable) {
        self.script = script
        self.voice = voice
        self.thumbnail = thumbnail
        self.prices = prices
    }

    /// Everything offline (espeak-ng, ffmpeg, the template script writer): the embedded default.
    public static let offline = PipelinePlan(
        script: [ProviderChoice(provider: "offline", model: "script-template")],
        voice: [ProviderChoice(provider: "offline", model: "espeak-ng")],
        thumbnail: [ProviderChoice(provider: "offline", model: "ffmpeg-title-card")],
        prices: .defaults)

    /// The providers configured for a stage; assembly and review are local and free.
    public func choices(for stage: PipelineStage) -> [ProviderChoice] {
        switch stage {
        case .script: script
        case .voice: voice
        case .thumbnail: thumbnail
        case .assemble: [ProviderChoice(provider: "offline", model: "ffmpeg")]
        case .review: [ProviderChoice(provider: "offline", model: "review")]
        }
    }

    /// Prices a usage: each counted unit the provider has a price for is billed (a provider
    /// prices the units it bills: tokens for chat, characters for speech). Nil when a paid
    /// provider has no price at all in the table: such a provider is never called.
    public func quote(_ usage: Usage, with choice: ProviderChoice) -> CostQuote? {
        var total = Money.zero
        var lines: [(unit: String, units: Double, price: Double, amount: Money)] = []
        for (unit, units) in usage.units.sorted(by: { $0.key < $1.key }) {
            guard let price = prices.usdPerUnit(provider: choice.provider, model: choice.model, unit: unit) else { continue }
            let amount = Money.cost(units: units, usdPerUnit: price)
            total = total + amount
            lines.append((unit, units, price, amount))
        }
        if lines.isEmpty, choice.provider != "offline" { return nil }
        let main = lines.max { $0.amount < $1.amount }
        return CostQuote(choice: choice, usage: usage, amount: total, unit: main?.unit ?? "call",
                         units: main?.units ?? 0, unitPrice: main?.price ?? 0)
    }

    /// The first provider for `stage` whose worst case fits in `available`, or nil: a
    /// cheaper fallback is taken only when the preferred one does not fit.
    public func affordable(_ stage: PipelineStage, usage: (ProviderChoice) -> Usage, available: Money) -> CostQuote? {
        for choice in choices(for: stage) {
            if let quote = quote(usage(choice), with: choice), quote.amount <= available { return quote }
        }
        return nil
    }

    /// The expected cost of a whole video, for `estimated_cost` and the check at submit:
    /// the cheapest configured provider of each stage at the expected usage.
    public func estimate(_ request: VideoRequest, stages: [PipelineStage] = PipelineStage.allCases) -> Money {
        var total = Money.zero
        for stage in [PipelineStage.script, .voice, .thumbnail] where stages.contains(stage) {
            let usage = UsageModel.expected(stage, request: request)
            let amounts = choices(for: stage).compactMap { quote(usage, with: $0)?.amount }
            total = total + (amounts.min() ?? .zero)
        }
        return total
    }
}

/// How much a stage consumes, as a worst case before a call (what is reserved) and as an
/// expectation at submit. Speech runs at about 150 words a minute, 6 characters a word.
public enum UsageModel {
    public static let wordsPerSecond = 2.5
    public static let charactersPerWord = 6.0
    public static let tokensPerWord = 1.4

    /// Words a script for this many seconds should have.
    public static func targetWords(durationSeconds: Int) -> Int { Int((Double(durationSeconds) * wordsPerSecond).rounded()) }

    /// The most output tokens a script call may produce (sent as `max_tokens`): a fifth over the target.
    public static func maxScriptTokens(durationSeconds: Int) -> Int {
        Int((Double(targetWords(durationSeconds: durationSeconds)) * tokensPerWord * 1.2).rounded(.up)) + 64
    }

    /// Tokens a chat API adds around the messages (role markers, separators): a generous
    /// bound for two messages.
    public static let chatOverheadTokens = 32

    /// The worst case of a script call: every byte of every message a token (the system
    /// message included; no tokenizer makes more tokens than bytes) plus the chat format's
    /// overhead, and `max_tokens` out (sent with the call); the offline writer counts output
    /// characters.
    public static func scriptWorstCase(prompt: String, request: VideoRequest) -> Usage {
        let maxTokens = Double(maxScriptTokens(durationSeconds: request.durationTarget))
        let input = ScriptRequest.systemMessage.utf8.count + prompt.utf8.count + chatOverheadTokens
        return Usage(["token_in": Double(input), "token_out": maxTokens,
                      "character": maxTokens / tokensPerWord * (charactersPerWord + 2)])
    }

    /// Characters a speech provider can bill for `text`. Providers bill characters without
    /// saying whether they count Unicode scalars or UTF-16 code units, so this is the larger
    /// of the two — never grapheme clusters, which can be far fewer ("a" with 50 combining
    /// marks is one cluster and 51 scalars).
    public static func billableCharacters(_ text: String) -> Int { max(text.unicodeScalars.count, text.utf16.count) }

    /// Speech bills every character of the script, known exactly before the call.
    public static func voice(script: String) -> Usage { Usage(["character": Double(billableCharacters(script))]) }

    /// One image per thumbnail.
    public static let thumbnail = Usage(["image": 1])

    /// What a stage is expected to consume, before any script exists.
    public static func expected(_ stage: PipelineStage, request: VideoRequest) -> Usage {
        let words = Double(targetWords(durationSeconds: request.durationTarget))
        switch stage {
        case .script:
            return Usage(["token_in": 400, "token_out": words * tokensPerWord, "character": words * charactersPerWord])
        case .voice: return Usage(["character": words * charactersPerWord])
        case .thumbnail: return thumbnail
        case .assemble: return Usage(["second": Double(request.durationTarget)])
        case .review: return Usage([:])
        }
    }
}
