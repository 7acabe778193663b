@testable import API
import Foundation
import PropertyBased
import Testing

/// The strict JSON check: RFC 8259 and nothing more.
@Suite struct StrictJSONTests {
    static func valid(_ text: String) -> Bool {
        do { try StrictJSON.validate(Array(text.utf8)); return true } catch { return false }
    }

    @Test(arguments: [
        #"{}"#, #"[]"#, #" {"a": 1} "#, #"{"a": [1, 2.5, -3e10, 0, 0.0, 1E+2], "b": {"c": null}, "d": true, "e": false}"#,
        #""text with \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00""#, #"-0"#, #"123"#, "\"caf\u{e9} \u{1F600}\"", #"[[[[]]]]"#,
    ])
    func standardJSONPasses(_ text: String) { #expect(Self.valid(text), "\(text)") }

    @Test(arguments: [
        #"{"a": 1,}"#, #"[1, 2,]"#, #"{,}"#, #"[,]"#, #"{"a" 1}"#, #"{'a': 1}"#, #"{a: 1}"#, #"{"a": 01}"#, #"{"a": 1.}"#,
        #"{"a": .5}"#, #"{"a": +1}"#, #"{"a": NaN}"#, #"{"a": Infinity}"#, #"{"a": 1} x"#, #"{"a": 1 // c"#, #"{"a": tru}"#,
        #""unterminated"#, #""bad \x escape""#, #""\u12G4""#, "\"a\u{01}b\"", "", "   ", #"{"a": [1, 2}"#, #"{"a": 1}}"#,
        String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ])
    func anythingElseFails(_ text: String) { #expect(!Self.valid(text), "\(text)") }

    /// Whatever Foundation writes is accepted, and the same with a comma before its last
    /// closing bracket is refused.
    @Test func foundationsOutputPassesAndATrailingCommaFails() async {
        let values = Gen.int(in: -1_000_000...1_000_000).map { ["n": $0, "list": [$0, $0 / 3], "s": "v\($0)"] as [String: any Sendable] }
        await propertyCheck(count: 300, input: values) { value in
            guard let data = try? JSONSerialization.data(withJSONObject: value) else { return }
            let text = String(decoding: data, as: UTF8.self)
            #expect(Self.valid(text), "\(text)")
            var broken = text
            broken.removeLast()
            #expect(!Self.valid(broken + ",}"), "\(broken),}")
        }
    }
}
