import Domain
import Foundation
import NIOCore
import NIOPosix
import Synchronization
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

/// The C library's resolver (`getaddrinfo`), on a small thread pool of its own and with a
/// time limit: a lookup blocks its thread for as long as a (possibly hostile) name server
/// takes, so lookups must neither hold the threads other work needs (bcrypt runs on NIO's
/// shared pool) nor keep a delivery waiting longer than `timeout`.
public struct SystemHostResolver: HostResolver {
    /// The name did not resolve (in time).
    public struct Failure: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "the host name did not resolve" }
    }

    /// Lookups in progress at most, fleet-process-wide; more wait for a thread.
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// How long a lookup may take.
    public var timeout: Duration

    public init(timeout: Duration = .seconds(10)) { self.timeout = timeout }

    public func addresses(of host: String) async throws -> [NetworkAddress] {
        let timeout = TimeAmount(timeout)
        return try await withCheckedThrowingContinuation { continuation in
            let answer = OnceContinuation(continuation)
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: timeout) { answer.resume(.failure(Failure())) }
            Self.pool.submit { state in
                guard state == .active else { return answer.resume(.failure(Failure())) }
                answer.resume(Result { try Self.resolve(host) })
                timer.cancel()
            }
        }
    }

    /// A continuation resumed by whichever comes first, the answer or the time limit.
    private final class OnceContinuation: Sendable {
        private let continuation: Mutex<CheckedContinuation<[NetworkAddress], any Error>?>

        init(_ continuation: CheckedContinuation<[NetworkAddress], any Error>) { self.continuation = Mutex(continuation) }

        func resume(_ result: Result<[NetworkAddress], any Error>) {
            let pending = continuation.withLock { value -> CheckedContinuation<[NetworkAddress], any Error>? in
                defer { value = nil }
                return value
            }
            pending?.resume(with: result)
        }
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
