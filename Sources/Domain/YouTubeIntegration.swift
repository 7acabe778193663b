/// What the API and workers need to talk to YouTube: the gateway (Google or the sandbox),
/// the key that seals tokens at rest, and the quota rules.
public struct YouTubeIntegration: Sendable {
    public var gateway: any YouTubeGateway
    public var cipher: TokenCipher
    public var policy: QuotaPolicy

    public init(gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy) {
        self.gateway = gateway
        self.cipher = cipher
        self.policy = policy
    }
}
