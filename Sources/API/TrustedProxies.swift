import Domain

/// The reverse proxies in front of the API (`YTEMPIRE_TRUSTED_PROXIES`, CIDRs). Behind one,
/// the peer of every request is the proxy: the client is then read from `X-Forwarded-For`,
/// right to left, as the first address no trusted proxy owns — the entries left of it are
/// whatever the client chose to send, so they are never believed.
public struct TrustedProxies: Sendable, Equatable {
    public var networks: [NetworkAddress.Network]

    public init(_ networks: [NetworkAddress.Network] = []) { self.networks = networks }

    /// Parses a comma-separated list of CIDRs or addresses.
    /// - Throws: `invalid` naming the entry.
    public init(parsing list: String) throws {
        networks = try list.split(separator: ",").map { String($0.filter { $0 != " " && $0 != "\t" }) }.filter { !$0.isEmpty }
            .map { try NetworkAddress.Network(parsing: $0) }
    }

    func trusts(_ address: NetworkAddress) -> Bool { networks.contains { $0.contains(address) } }

    /// The client of a request that came from `peer` with these `X-Forwarded-For` headers
    /// (each a comma-separated list, in order), as its rate-limit key; nil without a peer.
    func client(peer: String?, forwardedFor: [String]) -> String? {
        guard let peerText = peer, let peerAddress = NetworkAddress(numericHost: peerText) else { return peer }
        guard trusts(peerAddress) else { return peerAddress.rateLimitKey }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { String($0.filter { $0 != " " && $0 != "\t" }) }
        var client = peerAddress
        for hop in hops.reversed() {
            // A hop that is not an address (garbage, `unknown`) ends the chain: the last
            // address believed is the client.
            guard let address = NetworkAddress(numericHost: hop) else { break }
            client = address
            if !trusts(address) { break }
        }
        return client.rateLimitKey
    }
}
