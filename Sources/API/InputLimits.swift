/// Limits the generated decoder does not enforce (lengths, ranges, patterns), checked by hand
/// with the same numbers as `openapi.yaml`.
enum InputLimits {
    /// 400 naming `field` when `value` is longer than `maximum` characters.
    static func check(_ value: String?, max maximum: Int, field: String) throws {
        if let value, value.count > maximum {
            throw APIError.validation("\(field) must be at most \(maximum) characters", field: field, issue: "too long")
        }
    }

    /// 400 naming `field` unless `value` is exactly `digits` ASCII digits.
    static func checkDigits(_ value: String?, count digits: Int, field: String) throws {
        if let value, value.count != digits || !value.allSatisfy({ $0.isASCII && $0.isNumber }) {
            throw APIError.validation("\(field) must be \(digits) digits", field: field, issue: "invalid format")
        }
    }
}
