import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, and whether it is one the public internet routes to.
///
/// The fleet sends requests to addresses that users give it (webhook receivers). Such an
/// address must never be one inside our own network: `isGloballyReachable` is the one
/// place that decides, from the IANA IPv4 and IPv6 special-purpose registries, with the
/// IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms judged by the IPv4 address they carry.
public enum NetworkAddress: Sendable, Hashable, CustomStringConvertible {
    /// Four bytes, the first one most significant.
    case v4(UInt32)
    /// Sixteen bytes in network order.
    case v6([UInt8])

    /// Parses a numeric host the way the C library's resolver does: dotted quads and their
    /// shorter, octal and hexadecimal forms (`127.1`, `0x7f.1`, `2130706433`), and IPv6 with
    /// or without brackets. Nil for a name.
    public init?(numericHost text: String) {
        var host = text
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, host.utf8.count <= 64, !host.contains("%") else { return nil }
        if host.contains(":") {
            var address = in6_addr()
            guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: &address) { Array($0) })
            return
        }
        var address = in_addr()
        guard inet_aton(host, &address) != 0 else { return nil }
        self = .v4(UInt32(bigEndian: address.s_addr))
    }

    /// The textual form (`192.0.2.1`, `2001:db8::1`) that `inet_pton` reads back.
    public var description: String {
        switch self {
        case .v4(let value):
            return "\(value >> 24).\((value >> 16) & 0xff).\((value >> 8) & 0xff).\(value & 0xff)"
        case .v6(let bytes):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { target in
                for (index, byte) in bytes.prefix(16).enumerated() { target[index] = byte }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "::" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// True when the public internet routes to this address: none of the special-purpose
    /// ranges (loopback, private, shared, link-local, documentation, benchmarking, multicast,
    /// reserved, unique-local, …), and an IPv6 address only in global unicast (`2000::/3`).
    public var isGloballyReachable: Bool {
        switch self {
        case .v4(let value):
            return !Self.specialV4.contains { $0.contains(value) }
        case .v6(let bytes):
            guard bytes.count == 16 else { return false }
            if let embedded = embeddedV4 { return NetworkAddress.v4(embedded).isGloballyReachable }
            // Everything outside 2000::/3 is unspecified, loopback, unique-local, link-local,
            // multicast or not yet allocated.
            guard bytes[0] & 0xe0 == 0x20 else { return false }
            return !Self.specialV6.contains { $0.contains(bytes) }
        }
    }

    /// The IPv4 address inside an IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`),
    /// NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) IPv6 address.
    var embeddedV4: UInt32? {
        guard case .v6(let bytes) = self, bytes.count == 16 else { return nil }
        func word(_ from: Int) -> UInt32 { bytes[from..<from + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        let zeros10 = bytes[0..<10].allSatisfy { $0 == 0 }
        if zeros10, bytes[10] == 0xff, bytes[11] == 0xff { return word(12) }
        // ::/96, but not :: and ::1, which the ranges below refuse anyway.
        if zeros10, bytes[10] == 0, bytes[11] == 0, word(12) > 1 { return word(12) }
        if bytes[0..<12] == [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0] { return word(12) }
        if bytes[0] == 0x20, bytes[1] == 0x02 { return word(2) }
        return nil
    }

    struct V4Range {
        let base: UInt32
        let bits: Int
        func contains(_ value: UInt32) -> Bool {
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << UInt32(32 - bits)
            return value & mask == base & mask
        }
    }

    struct V6Range {
        let prefix: [UInt8]
        let bits: Int
        func contains(_ bytes: [UInt8]) -> Bool {
            for bit in 0..<bits {
                let index = bit / 8, shift = 7 - bit % 8
                let byte = index < prefix.count ? prefix[index] : 0
                if (bytes[index] >> shift) & 1 != (byte >> shift) & 1 { return false }
            }
            return true
        }
    }

    private static func v4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32, _ bits: Int) -> V4Range {
        V4Range(base: a << 24 | b << 16 | c << 8 | d, bits: bits)
    }

    /// IANA IPv4 Special-Purpose Address Registry, plus multicast and the limited broadcast.
    static let specialV4: [V4Range] = [
        v4(0, 0, 0, 0, 8),          // "this network"
        v4(10, 0, 0, 0, 8),         // private
        v4(100, 64, 0, 0, 10),      // shared address space (carrier-grade NAT)
        v4(127, 0, 0, 0, 8),        // loopback
        v4(169, 254, 0, 0, 16),     // link-local (cloud metadata services live here)
        v4(172, 16, 0, 0, 12),      // private
        v4(192, 0, 0, 0, 24),       // IETF protocol assignments
        v4(192, 0, 2, 0, 24),       // documentation (TEST-NET-1)
        v4(192, 31, 196, 0, 24),    // AS112-v4
        v4(192, 52, 193, 0, 24),    // AMT
        v4(192, 88, 99, 0, 24),     // deprecated 6to4 relay anycast
        v4(192, 168, 0, 0, 16),     // private
        v4(192, 175, 48, 0, 24),    // direct delegation AS112
        v4(198, 18, 0, 0, 15),      // benchmarking
        v4(198, 51, 100, 0, 24),    // documentation (TEST-NET-2)
        v4(203, 0, 113, 0, 24),     // documentation (TEST-NET-3)
        v4(224, 0, 0, 0, 4),        // multicast
        v4(240, 0, 0, 0, 4),        // reserved, and 255.255.255.255
    ]

    /// IANA IPv6 Special-Purpose Address Registry entries inside `2000::/3` (the rest of the
    /// space is refused as a whole).
    static let specialV6: [V6Range] = [
        V6Range(prefix: [0x20, 0x01, 0x00, 0x00], bits: 23),   // IETF protocol assignments (TEREDO, ORCHIDv2, …)
        V6Range(prefix: [0x20, 0x01, 0x0d, 0xb8], bits: 32),   // documentation
        V6Range(prefix: [0x3f, 0xff], bits: 20),               // documentation (RFC 9637)
    ]
}
