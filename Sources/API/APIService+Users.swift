package import Foundation
import Domain
import PostgresNIO

/// Users: the caller's own profile.
extension APIService {
    func getProfile(_ input: Operations.GetProfile.Input) async throws -> Operations.GetProfile.Output {
        let caller = try CurrentUser.require()
        let user = caller.user
        // Videos and the cost ledger arrive with the pipeline; until a user has videos their
        // usage is zero and the whole monthly allowance remains.
        let allowance = try await users.monthlyVideoAllowance(tier: user.subscriptionTier)
        return .ok(.init(body: .json(.init(
            id: user.id, email: user.email, fullName: user.fullName, company: user.company,
            emailVerified: user.emailVerified, twoFactorEnabled: user.twoFactorEnabled,
            subscription: .init(tier: user.subscriptionTier, videosRemaining: allowance),
            usage: .init(videosGenerated: 0, totalCost: 0, averageCostPerVideo: 0)))))
    }
}
