import Foundation

/// Stripe's request parameters: `application/x-www-form-urlencoded` bodies (and query strings)
/// with bracketed keys — `metadata[plan]=pro`, `items[0][price]=price_…`, `expand[]=x` or
/// `expand[0]=x` — kept flat, with accessors for the nested forms the sandbox reads.
struct StripeForm: Sendable {
    private(set) var fields: [String: String] = [:]

    init(_ encoded: String) {
        for (key, value) in formPairs(encoded) { fields[key] = value }
    }

    subscript(_ key: String) -> String? { fields[key] }

    /// A non-empty value, or nil (an empty value unsets a field in Stripe's protocol).
    func value(_ key: String) -> String? {
        guard let value = fields[key], !value.isEmpty else { return nil }
        return value
    }

    func integer(_ key: String) -> Int? { value(key).flatMap { Int($0) } }

    func bool(_ key: String) -> Bool? {
        switch fields[key] {
        case "true": true
        case "false": false
        default: nil
        }
    }

    /// `name[]=a&name[]=b` or `name[0]=a&name[1]=b`.
    func list(_ name: String) -> [String] {
        var indexed: [(Int, String)] = []
        var plain: [String] = []
        for (key, value) in fields {
            if key == name + "[]" { plain.append(value); continue }
            guard key.hasPrefix(name + "["), key.hasSuffix("]") else { continue }
            let inner = key.dropFirst(name.count + 1).dropLast()
            if let index = Int(inner) { indexed.append((index, value)) }
        }
        return indexed.sorted { $0.0 < $1.0 }.map(\.1) + plain
    }

    /// `name[0][field]=…`: one dictionary per index, in index order.
    func hashes(_ name: String) -> [[String: String]] {
        var byIndex: [Int: [String: String]] = [:]
        for (key, value) in fields where key.hasPrefix(name + "[") {
            let rest = key.dropFirst(name.count + 1)
            guard let close = rest.firstIndex(of: "]"), let index = Int(rest[..<close]) else { continue }
            let field = rest[rest.index(after: close)...]
            guard field.hasPrefix("["), field.hasSuffix("]"), field.count > 2 else { continue }
            byIndex[index, default: [:]][String(field.dropFirst().dropLast())] = value
        }
        return byIndex.keys.sorted().compactMap { byIndex[$0] }
    }

    /// `name[key]=value` pairs (metadata).
    func hash(_ name: String) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in fields where key.hasPrefix(name + "[") && key.hasSuffix("]") {
            let inner = key.dropFirst(name.count + 1).dropLast()
            guard !inner.contains("["), !inner.isEmpty else { continue }
            result[String(inner)] = value
        }
        return result
    }
}
