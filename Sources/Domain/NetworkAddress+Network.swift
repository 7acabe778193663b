import Foundation

extension NetworkAddress {
    /// A block of addresses written `address/prefix` (`10.0.0.0/8`, `2001:db8::/32`), or one
    /// address (a host route).
    public struct Network: Sendable, Hashable, CustomStringConvertible {
        public let address: NetworkAddress
        public let prefix: Int

        /// Parses `address/prefix` or a bare address.
        /// - Throws: `invalid` naming the text.
        public init(parsing text: String) throws {
            let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let address = NetworkAddress(numericHost: first) else {
                throw DomainError(.invalid, "'\(text)' is not an IP address or CIDR block")
            }
            let width = address.bitWidth
            let prefix = parts.count == 2 ? Int(parts[1]) : width
            guard let prefix, (0...width).contains(prefix) else {
                throw DomainError(.invalid, "'\(text)': the prefix length must be 0 to \(width)")
            }
            self.address = address
            self.prefix = prefix
        }

        /// Whether `candidate` is in this block (IPv4-mapped IPv6 addresses count as IPv4).
        public func contains(_ candidate: NetworkAddress) -> Bool {
            switch (address, candidate.unmapped) {
            case (.v4(let base), .v4(let value)):
                return V4Range(base: base, bits: prefix).contains(value)
            case (.v6(let base), .v6(let value)):
                return V6Range(prefix: base, bits: prefix).contains(value)
            default:
                return false
            }
        }

        public var description: String { "\(address)/\(prefix)" }
    }

    /// 32 for IPv4, 128 for IPv6.
    var bitWidth: Int {
        if case .v4 = self { return 32 }
        return 128
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it is; others as they are.
    public var unmapped: NetworkAddress {
        guard case .v6(let bytes) = self, bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else {
            return self
        }
        return .v4(bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
    }

    /// What counts as one client for rate limits: an IPv4 address, or the /64 an IPv6 address
    /// is in (one household or host gets a whole /64, and can pick any address in it).
    public var rateLimitKey: String {
        switch unmapped {
        case .v4: return unmapped.description
        case .v6(let bytes):
            let network = Array(bytes.prefix(8)) + Array(repeating: 0, count: 8)
            return "\(NetworkAddress.v6(network))/64"
        }
    }
}
