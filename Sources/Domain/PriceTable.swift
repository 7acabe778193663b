import Foundation

/// What providers charge, dated: each stage prices its worst case before a call and its
/// actual usage after it from this table, so the ledger says which price applied.
public struct PriceTable: Sendable, Codable, Equatable {
    /// One provider model's price.
    public struct Price: Sendable, Codable, Equatable {
        public var provider: String
        public var model: String
        /// What is counted: `token_in`/`token_out` (chat), `character` (speech), `image`, `second`.
        public var unit: String
        public var usdPerUnit: Double

        public init(provider: String, model: String, unit: String, usdPerUnit: Double) {
            self.provider = provider
            self.model = model
            self.unit = unit
            self.usdPerUnit = usdPerUnit
        }
    }

    /// The date the prices were taken from their public lists (ISO 8601 day).
    public var asOf: String
    public var prices: [Price]

    public init(asOf: String, prices: [Price]) {
        self.asOf = asOf
        self.prices = prices
    }

    /// The price per unit, or nil when the table has none (an unpriced paid call is refused).
    public func usdPerUnit(provider: String, model: String, unit: String) -> Double? {
        prices.first { $0.provider == provider && $0.model == model && $0.unit == unit }?.usdPerUnit
    }

    /// Public list prices as of the date given: OpenAI gpt-4o-mini $0.15/$0.60 and gpt-4o
    /// $2.50/$10 per 1M tokens, tts-1 $15 and tts-1-hd $30 per 1M characters, dall-e-3
    /// standard 1024² $0.04 per image, ElevenLabs $0.10 per 1K characters. The offline
    /// providers cost nothing unless a table prices them.
    public static let defaults = PriceTable(asOf: "2024-08-15", prices: [
        .init(provider: "openai", model: "gpt-4o-mini", unit: "token_in", usdPerUnit: 0.15 / 1_000_000),
        .init(provider: "openai", model: "gpt-4o-mini", unit: "token_out", usdPerUnit: 0.60 / 1_000_000),
        .init(provider: "openai", model: "gpt-4o", unit: "token_in", usdPerUnit: 2.50 / 1_000_000),
        .init(provider: "openai", model: "gpt-4o", unit: "token_out", usdPerUnit: 10.0 / 1_000_000),
        .init(provider: "openai", model: "tts-1", unit: "character", usdPerUnit: 15.0 / 1_000_000),
        .init(provider: "openai", model: "tts-1-hd", unit: "character", usdPerUnit: 30.0 / 1_000_000),
        .init(provider: "openai", model: "dall-e-3", unit: "image", usdPerUnit: 0.04),
        .init(provider: "elevenlabs", model: "eleven_multilingual_v2", unit: "character", usdPerUnit: 0.10 / 1_000),
        .init(provider: "offline", model: "script-template", unit: "character", usdPerUnit: 0),
        .init(provider: "offline", model: "espeak-ng", unit: "character", usdPerUnit: 0),
        .init(provider: "offline", model: "ffmpeg-title-card", unit: "image", usdPerUnit: 0),
        .init(provider: "offline", model: "ffmpeg", unit: "second", usdPerUnit: 0),
    ])

    /// Loads a table from JSON (`{"asOf": "...", "prices": [{"provider", "model", "unit", "usdPerUnit"}]}`).
    public static func decode(json: Data) throws -> PriceTable {
        do {
            let table = try JSONDecoder().decode(PriceTable.self, from: json)
            if let bad = table.prices.first(where: { !($0.usdPerUnit >= 0) || !$0.usdPerUnit.isFinite }) {
                throw DomainError(.invalid, "price of \(bad.provider)/\(bad.model) per \(bad.unit) must be a non-negative number")
            }
            return table
        } catch let error as DomainError {
            throw error
        } catch {
            throw DomainError(.invalid, "the price table is not valid JSON of the documented shape: \(error)")
        }
    }
}
