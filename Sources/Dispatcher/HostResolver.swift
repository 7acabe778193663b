import Domain
import Foundation
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Turns a host name into the addresses it stands for. The seam through which tests give
/// a name the answers they need (a private address, an answer that changes).
public protocol HostResolver: Sendable {
    /// Every address `host` resolves to now, IPv4 and IPv6.
    /// - Throws: when the name does not resolve.
    func addresses(of host: String) async throws -> [NetworkAddress]
}

/// The C library's resolver (`getaddrinfo`), run on NIO's blocking-I/O thread pool.
public struct SystemHostResolver: HostResolver {
    /// The name did not resolve.
    public struct Failure: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "the host name did not resolve" }
    }

    public init() {}

    public func addresses(of host: String) async throws -> [NetworkAddress] {
        try await NIOThreadPool.singleton.runIfActive { try Self.resolve(host) }
    }

    static func resolve(_ host: String) throws -> [NetworkAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { throw Failure() }
        defer { freeaddrinfo(list) }
        var found: [NetworkAddress] = []
        var cursor = list
        while let entry = cursor?.pointee {
            if let socketAddress = entry.ai_addr {
                switch entry.ai_family {
                case AF_INET:
                    let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    found.append(.v4(UInt32(bigEndian: address.s_addr)))
                case AF_INET6:
                    var address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    found.append(.v6(withUnsafeBytes(of: &address) { Array($0) }))
                default:
                    break
                }
            }
            cursor = entry.ai_next
        }
        var seen = Set<NetworkAddress>()
        return found.filter { seen.insert($0).inserted }
    }
}
