import HummingbirdBcrypt
import NIOPosix

/// bcrypt on NIO's thread pool: a hash takes ~0.2 s at cost 12, which must not block the
/// cooperative threads that serve every other request.
struct PasswordHasher: Sendable {
    let cost: UInt8

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// A hash to compare against when the email is unknown, so a failed login takes as long
    /// whether or not the account exists.
    func dummyHash() async throws -> String { try await hash("not-a-real-password-0") }
}
