package import Foundation
import Domain
import PostgresNIO

/// Users: the caller's own profile.
extension APIService {
    func getProfile(_ input: Operations.GetProfile.Input) async throws -> Operations.GetProfile.Output {
        let caller = try CurrentUser.require()
        return .ok(.init(body: .json(try await profile(of: caller.user))))
    }

    /// The profile body. Videos and the cost ledger arrive with the pipeline; until a user has
    /// videos their usage is zero and the whole monthly allowance remains.
    func profile(of user: User) async throws -> Components.Schemas.Profile {
        let allowance = try await users.monthlyVideoAllowance(tier: user.subscriptionTier)
        return .init(
            id: user.id, email: user.email, fullName: user.fullName, company: user.company,
            emailVerified: user.emailVerified, twoFactorEnabled: user.twoFactorEnabled,
            subscription: .init(tier: user.subscriptionTier, videosRemaining: allowance),
            usage: .init(videosGenerated: 0, totalCost: 0, averageCostPerVideo: 0))
    }
}
