package import Foundation
import Domain
package import OpenAPIRuntime
import PostgresNIO

/// Users: the caller's own profile.
extension APIService {
    func getProfile(_ input: Operations.GetProfile.Input) async throws -> Operations.GetProfile.Output {
        let caller = try CurrentUser.require()
        return .ok(.init(body: .json(try await profile(of: caller.user))))
    }

    /// The profile body: the month's remaining allowance, and usage from the videos and their
    /// ledger-backed spend.
    func profile(of user: User) async throws -> Components.Schemas.Profile {
        let allowance = try await users.monthlyVideoAllowance(tier: user.subscriptionTier)
        let usage = try await videos.usage(userID: user.id)
        // The paid period's end, from the subscription's facts as last applied; the plan and
        // this date come from the same row.
        let expiresAt = user.subscriptionTier == "free" ? nil : try await BillingStore(client: client, logger: logger)
            .account(userID: user.id, on: client).flatMap { $0.isSubscribed ? $0.periodEnd : nil }
        let average = usage.videosTotal == 0 ? 0 : usage.totalCost.dollars / Double(usage.videosTotal)
        return .init(
            id: user.id, email: user.email, fullName: user.fullName, company: user.company,
            emailVerified: user.emailVerified, twoFactorEnabled: user.twoFactorEnabled,
            // `expires_at` is always present (the spec's example): null on the free plan.
            subscription: .init(tier: user.subscriptionTier, videosRemaining: max(0, allowance - usage.videosThisMonth),
                                expiresAt: try OpenAPIValueContainer(unvalidatedValue: expiresAt.map { ISO8601DateFormatter().string(from: $0) })),
            usage: .init(videosGenerated: usage.videosTotal, totalCost: usage.totalCost.dollars,
                         averageCostPerVideo: (average * 100).rounded() / 100))
    }
}
