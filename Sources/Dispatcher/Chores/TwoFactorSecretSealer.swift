import Domain
import Logging
import PostgresNIO
import Queue

/// The leader's chore that seals TOTP secrets still stored in clear (rows written before
/// secrets were sealed), a batch per round, until none is left. Reading such a secret seals
/// it as well, so this only finishes the ones nobody used.
public struct TwoFactorSecretSealer: MaintenanceTask {
    public let users: UserRepository
    public let interval: Duration
    public var name: String { "two-factor-sealer" }

    /// - Parameter users: a repository built with the fleet's token cipher.
    public init(users: UserRepository, interval: Duration = .seconds(600)) {
        self.users = users
        self.interval = interval
    }

    public func runOnce() async throws -> Int { try await users.sealClearTwoFactorSecrets() }
}
