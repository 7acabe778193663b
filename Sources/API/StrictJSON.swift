/// A strict RFC 8259 syntax check of a request body. Foundation's parser also accepts what
/// the standard does not (a trailing comma in an object or array), so every JSON body is
/// checked here first and anything but standard JSON is a 400 `validation_error`, whatever
/// a decoder would tolerate.
struct StrictJSON {
    /// Where and why a body is not JSON.
    struct Failure: Error, Equatable {
        var offset: Int
        var reason: String
    }

    /// Nesting deeper than this is refused (a stack-exhaustion guard).
    static let maximumDepth = 128

    /// Checks that `bytes` is exactly one JSON value, with optional whitespace around it.
    static func validate(_ bytes: [UInt8]) throws(Failure) {
        var parser = StrictJSON(bytes: bytes)
        parser.skipWhitespace()
        try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw Failure(offset: parser.index, reason: "unexpected data after the JSON value") }
    }

    private let bytes: [UInt8]
    private var index = 0

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ reason: String) throws(Failure) {
        guard current == byte else { throw failure(reason) }
        index += 1
    }

    private mutating func value(depth: Int) throws(Failure) {
        guard depth < Self.maximumDepth else { throw failure("nested too deeply") }
        guard let byte = current else { throw failure("unexpected end of the body") }
        switch byte {
        case UInt8(ascii: "{"): try object(depth: depth)
        case UInt8(ascii: "["): try array(depth: depth)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw failure("a value was expected")
        }
    }

    private mutating func object(depth: Int) throws(Failure) {
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return }
        while true {
            guard current == UInt8(ascii: "\"") else { throw failure("a member name in double quotes was expected") }
            try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' was expected after a member name")
            skipWhitespace()
            try value(depth: depth + 1)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "}") { throw failure("a trailing comma is not allowed") }
                continue
            }
            try expect(UInt8(ascii: "}"), "',' or '}' was expected")
            return
        }
    }

    private mutating func array(depth: Int) throws(Failure) {
        index += 1
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return }
        while true {
            try value(depth: depth + 1)
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if current == UInt8(ascii: "]") { throw failure("a trailing comma is not allowed") }
                continue
            }
            try expect(UInt8(ascii: "]"), "',' or ']' was expected")
            return
        }
    }

    private mutating func string() throws(Failure) {
        index += 1
        while let byte = current {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return
            case UInt8(ascii: "\\"):
                index += 1
                switch current {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    index += 1
                case UInt8(ascii: "u"):
                    index += 1
                    for _ in 0..<4 {
                        guard let hex = current, isHexDigit(hex) else { throw failure("\\u must be followed by four hexadecimal digits") }
                        index += 1
                    }
                default:
                    throw failure("an invalid escape in a string")
                }
            case 0x00..<0x20:
                throw failure("a control character must be escaped in a string")
            default:
                index += 1
            }
        }
        throw failure("a string is not closed")
    }

    private func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    private mutating func digits() -> Int {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index - start
    }

    private mutating func number() throws(Failure) {
        if current == UInt8(ascii: "-") { index += 1 }
        if current == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { throw failure("a digit was expected") }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw failure("a digit was expected after '.'") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw failure("a digit was expected in the exponent") }
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let expected = word.withUTF8Buffer { Array($0) }
        guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
            throw failure("a value was expected")
        }
        index += expected.count
    }
}
