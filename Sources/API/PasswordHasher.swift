import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// bcrypt on NIO's thread pool: a hash takes ~0.2 s at cost 12, which must not block the
/// cooperative threads that serve every other request.
final class PasswordHasher: Sendable {
    let cost: UInt8
    /// A hash to compare against when the email is unknown, so a failed login costs one
    /// verification whether or not the account exists (made once, at start).
    let dummyHash: String
    /// bcrypt computations done, by kind: what a login costs, observable.
    private let work = Mutex((hashes: 0, verifications: 0))

    /// Makes the dummy hash (one bcrypt computation, at start).
    static func make(cost: UInt8) async throws -> PasswordHasher {
        let dummy = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash("not-a-real-password-\(UInt64.random(in: 0...UInt64.max))", cost: cost) }
        return PasswordHasher(cost: cost, dummyHash: dummy)
    }

    private init(cost: UInt8, dummyHash: String) {
        self.cost = cost
        self.dummyHash = dummyHash
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        work.withLock { $0.hashes += 1 }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String) async throws -> Bool {
        work.withLock { $0.verifications += 1 }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Hashes and verifications computed so far.
    var computations: (hashes: Int, verifications: Int) { work.withLock { $0 } }
}
