import Domain
import Foundation

/// Decides, where a connection is about to be made, which address it may go to: the host is
/// resolved once, every answer must be allowed, and the caller connects to the address that
/// was checked — so a DNS answer that changes between a check and the connect (rebinding)
/// has nothing to slip through.
public struct OutboundAddressGuard: Sendable {
    /// Where a connection may go.
    public enum Decision: Sendable, Equatable {
        /// Connect to exactly this address.
        case connect(NetworkAddress)
        /// The host is, or resolves to, an address that is not allowed.
        case refused
        /// The host did not resolve.
        case unresolvable
    }

    public let resolver: any HostResolver
    public let allows: @Sendable (NetworkAddress) -> Bool

    /// - Parameters:
    ///   - resolver: how names become addresses.
    ///   - allows: which addresses a connection may go to.
    public init(resolver: any HostResolver = SystemHostResolver(), allows: @escaping @Sendable (NetworkAddress) -> Bool) {
        self.resolver = resolver
        self.allows = allows
    }

    /// Only globally reachable addresses (see `NetworkAddress.isGloballyReachable`).
    public static func publicOnly(resolver: any HostResolver = SystemHostResolver()) -> OutboundAddressGuard {
        OutboundAddressGuard(resolver: resolver) { $0.isGloballyReachable }
    }

    /// Any address, loopback and private ones included: for local use only.
    public static func anyAddress(resolver: any HostResolver = SystemHostResolver()) -> OutboundAddressGuard {
        OutboundAddressGuard(resolver: resolver) { _ in true }
    }

    /// The guard a webhook policy asks for: any address when it allows insecure receivers,
    /// else public ones only.
    public static func forWebhooks(_ policy: WebhookPolicy, resolver: any HostResolver = SystemHostResolver()) -> OutboundAddressGuard {
        policy.allowInsecureURLs ? .anyAddress(resolver: resolver) : .publicOnly(resolver: resolver)
    }

    /// Resolves `host` (a numeric host is its own answer) and decides. A name with any answer
    /// that is not allowed is refused as a whole.
    public func decide(host: String) async -> Decision {
        let candidates: [NetworkAddress]
        if let literal = NetworkAddress(numericHost: host) {
            candidates = [literal]
        } else {
            do { candidates = try await resolver.addresses(of: host) } catch { return .unresolvable }
        }
        guard let first = candidates.first else { return .unresolvable }
        guard candidates.allSatisfy(allows) else { return .refused }
        return .connect(first)
    }
}
