import Domain
import Foundation
import Testing

/// The price table: list prices looked up by provider, model and unit, and an operator's own
/// table read from JSON with bad prices refused.
@Suite struct PriceTableTests {
    @Test func theDefaultsPriceEveryPaidModelAndTheOfflineOnesAtNothing() {
        let table = PriceTable.defaults
        #expect(table.usdPerUnit(provider: "openai", model: "gpt-4o", unit: "token_out") == 10.0 / 1_000_000)
        #expect(table.usdPerUnit(provider: "openai", model: "dall-e-3", unit: "image") == 0.04)
        #expect(table.usdPerUnit(provider: "elevenlabs", model: "eleven_multilingual_v2", unit: "character") == 0.10 / 1_000)
        #expect(table.usdPerUnit(provider: "offline", model: "espeak-ng", unit: "character") == 0)
        // An unpriced call has no price (and is refused before it is made), not a price of zero.
        #expect(table.usdPerUnit(provider: "openai", model: "gpt-5", unit: "token_in") == nil)
        #expect(table.usdPerUnit(provider: "openai", model: "gpt-4o", unit: "image") == nil)
        // Each (provider, model, unit) once: a lookup never depends on the order of the list.
        #expect(Set(table.prices.map { "\($0.provider)/\($0.model)/\($0.unit)" }).count == table.prices.count)
    }

    @Test func anOperatorsTableIsReadFromJSONAndBadPricesAreRefused() throws {
        let table = try PriceTable.decode(json: Data(#"""
            {"asOf": "2026-11-01", "prices": [{"provider": "openai", "model": "gpt-4o", "unit": "token_in", "usdPerUnit": 0.000002}]}
            """#.utf8))
        #expect(table.asOf == "2026-11-01" && table.usdPerUnit(provider: "openai", model: "gpt-4o", unit: "token_in") == 0.000002)
        for bad in [#"{"asOf": "x", "prices": [{"provider": "a", "model": "b", "unit": "c", "usdPerUnit": -1}]}"#,
                    #"{"asOf": "x", "prices": [{"provider": "a", "model": "b", "unit": "c"}]}"#,
                    #"{"asOf": "x", "prices": {}}"#, "[]", "not json", ""] {
            #expect(throws: DomainError.self, "\(bad)") { try PriceTable.decode(json: Data(bad.utf8)) }
        }
        // A price too large for JSON's numbers to hold as a finite double is refused too.
        #expect(throws: DomainError.self) {
            try PriceTable.decode(json: Data(#"{"asOf": "x", "prices": [{"provider": "a", "model": "b", "unit": "c", "usdPerUnit": 1e400}]}"#.utf8))
        }
    }
}
