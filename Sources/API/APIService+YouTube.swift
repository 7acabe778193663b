package import Foundation
import Domain

/// YouTube integration: connecting accounts through Google OAuth, their quota, publishing,
/// and channel and video statistics from sync snapshots. Another user's ids answer 404.
extension APIService {
    /// The integration, or 409 on an instance configured without it.
    func requireYouTube() throws -> YouTubeIntegration {
        guard let youtube else { throw APIError.conflict("YouTube is not configured on this server") }
        return youtube
    }

    func youTubeAccounts(_ youtube: YouTubeIntegration) -> YouTubeAccountRepository {
        YouTubeAccountRepository(client: client, cipher: youtube.cipher, policy: youtube.policy, logger: logger)
    }

    func connectYouTube(_ input: Operations.ConnectYouTube.Input) async throws -> Operations.ConnectYouTube.Output {
        let caller = try CurrentUser.require()
        let youtube = try requireYouTube()
        var loginHint: String?
        if case .json(let body) = input.body { loginHint = body.loginHint }
        if let loginHint {
            do { try AccountRules.validateEmail(loginHint) } catch {
                throw APIError.validation("login_hint must be an email address", field: "login_hint")
            }
        }
        let accounts = youTubeAccounts(youtube)
        // Refused here already, so nobody is sent through Google's consent for nothing (the
        // callback checks again: reconnecting an account already connected is always allowed, so
        // is starting when one of them must be connected again).
        let (allowed, used, needReconnecting) = try await accounts.capacity(userID: caller.user.id)
        if used >= allowed && needReconnecting == 0 {
            throw DomainError(.limitReached, "Your plan allows \(allowed) connected YouTube accounts and all are in use; disconnect one first")
        }
        let state = try await accounts.beginConnect(userID: caller.user.id)
        return .ok(.init(body: .json(.init(authorizationUrl: youtube.gateway.authorizationURL(state: state, loginHint: loginHint), expiresIn: 900))))
    }

    /// Google's redirect: nothing is stored yet. The page names the YTEmpire account the state
    /// was issued to, so a person sent through someone else's consent link sees whose account
    /// would receive their channel; only its button (`confirmYouTubeConnection`) connects it.
    func youTubeCallback(_ input: Operations.YouTubeCallback.Input) async throws -> Operations.YouTubeCallback.Output {
        let youtube = try requireYouTube()
        let accounts = youTubeAccounts(youtube)
        try InputLimits.check(input.query.state, max: 200, field: "state")
        try InputLimits.check(input.query.code, max: 2000, field: "code")
        guard let pending = try await accounts.pendingConnect(state: input.query.state) else { throw Self.unknownState }
        if let error = input.query.error {
            _ = try await accounts.finishConnect(state: input.query.state)
            // Google's codes are short words (access_denied); anything else is not echoed.
            let shown = error.count <= 64 && error.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) } ? error : "unknown"
            throw APIError(.forbidden, code: "forbidden", message: "Google did not grant access: \(shown)", field: "error")
        }
        guard let code = input.query.code, !code.isEmpty else { throw APIError.validation("code is required", field: "code") }
        let page = OAuthConfirmationPage(recipientEmail: pending.email, state: input.query.state, code: code,
                                         action: APIServer.basePath + "/youtube/oauth/callback")
        return .ok(.init(body: .html(.init(page.html))))
    }

    static let unknownState = APIError(.forbidden, code: "forbidden", message: "The state is unknown, used or expired; start again with POST /youtube/oauth/connect",
                                       field: "state")

    /// The confirmation page's button: uses the state up, exchanges the code, stores the account.
    func confirmYouTubeConnection(_ input: Operations.ConfirmYouTubeConnection.Input) async throws -> Operations.ConfirmYouTubeConnection.Output {
        let form: Components.Schemas.ConnectConfirmation
        switch input.body {
        case .json(let body): form = body
        case .urlEncodedForm(let body): form = body
        }
        try InputLimits.check(form.state, max: 200, field: "state")
        try InputLimits.check(form.code, max: 2000, field: "code")
        let youtube = try requireYouTube()
        let accounts = youTubeAccounts(youtube)
        guard let userID = try await accounts.finishConnect(state: form.state) else { throw Self.unknownState }
        let code = form.code
        guard !code.isEmpty else { throw APIError.validation("code is required", field: "code") }
        do {
            let tokens = try await youtube.gateway.exchange(code: code)
            let email = try await youtube.gateway.email(accessToken: tokens.accessToken)
            let channel = try await youtube.gateway.myChannel(accessToken: tokens.accessToken)
            let account = try await accounts.connect(userID: userID, email: email, channel: channel, tokens: tokens)
            if account.analyticsAccess != .reconnectRequired {
                try await AnalyticsBackfills(client: client, logger: logger).start(accountID: account.id, userID: userID)
            }
            return .created(.init(body: .json(account.schema)))
        } catch let error as YouTubeError {
            switch error.kind {
            case .transient: throw APIError.serviceUnavailable("Google did not answer; try connecting again")
            default: throw APIError.validation("Google refused the connection: \(error.message)", field: "code")
            }
        }
    }

    func listYouTubeAccounts(_ input: Operations.ListYouTubeAccounts.Input) async throws -> Operations.ListYouTubeAccounts.Output {
        let caller = try CurrentUser.require()
        let accounts = try await youTubeAccounts(try requireYouTube()).list(userID: caller.user.id)
        let used = accounts.reduce(0) { $0 + $1.quotaUsed }, limit = accounts.reduce(0) { $0 + $1.quotaLimit }
        return .ok(.init(body: .json(.init(accounts: accounts.map(\.schema), totalAccounts: accounts.count,
                                           aggregatedQuota: .init(used: used, limit: limit)))))
    }

    func deleteYouTubeAccount(_ input: Operations.DeleteYouTubeAccount.Input) async throws -> Operations.DeleteYouTubeAccount.Output {
        let caller = try CurrentUser.require()
        guard try await youTubeAccounts(try requireYouTube()).delete(id: input.path.accountId, userID: caller.user.id) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(.init(message: "The YouTube account was disconnected"))))
    }

    func getYouTubeAccountQuota(_ input: Operations.GetYouTubeAccountQuota.Input) async throws -> Operations.GetYouTubeAccountQuota.Output {
        let caller = try CurrentUser.require()
        let youtube = try requireYouTube()
        let now = Date()
        guard let account = try await youTubeAccounts(youtube).account(id: input.path.accountId, userID: caller.user.id, now: now) else {
            throw APIError.notFound
        }
        let policy = youtube.policy
        let available = max(0, account.quotaLimit - policy.safetyBuffer - account.quotaUsed)
        return .ok(.init(body: .json(.init(
            accountId: account.id, day: QuotaDay.of(now), used: account.quotaUsed, limit: account.quotaLimit, safetyBuffer: policy.safetyBuffer,
            available: available, uploadsAvailable: available / max(1, policy.uploadUnits), resetsAt: account.quotaResetsAt,
            status: .init(account.status), costs: .init(additionalProperties: policy.costs)))))
    }

    func publishVideo(_ input: Operations.PublishVideo.Input) async throws -> Operations.PublishVideo.Output {
        let caller = try CurrentUser.require()
        _ = try requireYouTube()
        var privacy = "private"
        if case .json(let body) = input.body, let chosen = body.privacyStatus { privacy = chosen.rawValue }
        let publication = try await publications.request(videoID: input.path.videoId, userID: caller.user.id, privacy: privacy)
        return .accepted(.init(body: .json(publication.schema)))
    }

    func getVideoAnalytics(_ input: Operations.GetVideoAnalytics.Input) async throws -> Operations.GetVideoAnalytics.Output {
        let caller = try CurrentUser.require()
        let days = try Self.days(input.query.days)
        guard let found = try await stats.videoAnalytics(videoID: input.path.videoId, userID: caller.user.id, days: days) else {
            throw APIError.notFound
        }
        let latest = found.daily.last
        let engagement = latest.flatMap { $0.views > 0 ? Double($0.likes + $0.comments) / Double($0.views) : nil }
        let forecast = await viewsForecasts(userID: caller.user.id, videoIDs: [input.path.videoId])[input.path.videoId]
        return .ok(.init(body: .json(.init(
            videoId: input.path.videoId, youtubeVideoId: found.youtubeID, days: days, views: latest?.views, likes: latest?.likes,
            comments: latest?.comments, engagementRate: engagement, lastSyncedAt: found.lastSyncedAt,
            daily: found.daily.map { .init(date: $0.date, views: $0.views, likes: $0.likes, comments: $0.comments) },
            forecast: forecast.map { forecast in
                .init(source: forecast.version == nil ? .baseline : .model, version: forecast.version, observedDays: forecast.observedDays,
                      horizons: forecast.horizons.map {
                          .init(day: .init(rawValue: $0.day) ?? ._30, views: $0.views, baseline: $0.baseline, final: $0.final)
                      })
            }))))
    }

    func syncChannel(_ input: Operations.SyncChannel.Input) async throws -> Operations.SyncChannel.Output {
        let caller = try CurrentUser.require()
        let jobID = try await stats.requestSync(channelID: input.path.channelId, userID: caller.user.id)
        return .accepted(.init(body: .json(.init(channelId: input.path.channelId, jobId: jobID, status: .queued))))
    }

    func getChannelAnalytics(_ input: Operations.GetChannelAnalytics.Input) async throws -> Operations.GetChannelAnalytics.Output {
        let caller = try CurrentUser.require()
        let days = try Self.days(input.query.days)
        guard let found = try await stats.analytics(channelID: input.path.channelId, userID: caller.user.id, days: days) else {
            throw APIError.notFound
        }
        let first = found.daily.first, latest = found.daily.last
        let backfill = try await AnalyticsBackfills(client: client, logger: logger).backfill(channelID: found.channelID, userID: caller.user.id)
        return .ok(.init(body: .json(.init(
            channelId: found.channelID, days: days, subscribers: latest?.subscribers, views: latest?.views, videoCount: latest?.videoCount,
            subscriberChange: latest.flatMap { last in first.map { last.subscribers - $0.subscribers } },
            viewChange: latest.flatMap { last in first.map { last.views - $0.views } }, publishedVideos: found.publishedVideos,
            lastSyncedAt: found.lastSyncedAt, analyticsBackfill: backfill.map(\.schema),
            daily: found.daily.map { .init(date: $0.date, subscribers: $0.subscribers, views: $0.views, videoCount: $0.videoCount) }))))
    }

    func getChannelHealth(_ input: Operations.GetChannelHealth.Input) async throws -> Operations.GetChannelHealth.Output {
        let caller = try CurrentUser.require()
        guard let health = try await stats.health(channelID: input.path.channelId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(.init(
            channelId: health.channelID, healthScore: health.score, lastSyncedAt: health.lastSyncedAt, accountStatus: health.accountStatus,
            subscriberChange7d: health.subscriberChange7d, viewChange7d: health.viewChange7d, published30d: health.published30d,
            publishFailures30d: health.publishFailures30d, factors: health.factors.map { .init(factor: $0.factor, points: $0.points) }))))
    }

    /// The `days` window: 1-365, default 30.
    static func days(_ value: Int?) throws -> Int {
        guard let value else { return 30 }
        guard (1...365).contains(value) else { throw APIError.validation("days must be from 1 to 365", field: "days") }
        return value
    }
}

extension YouTubeAccount {
    var schema: Components.Schemas.YouTubeAccount {
        .init(accountId: id, email: email, channelName: channelName, youtubeChannelId: youtubeChannelID, status: .init(status),
              quotaUsed: quotaUsed, quotaLimit: quotaLimit, healthScore: healthScore, lastError: lastError, connectedAt: createdAt,
              analyticsAccess: .init(analyticsAccess))
    }
}

extension AnalyticsBackfill {
    var schema: Components.Schemas.AnalyticsBackfill {
        .init(status: .init(status), firstDay: firstDay, lastDay: lastDay, daysDone: daysDone, daysTotal: daysTotal, lastError: lastError)
    }
}

extension PublicationStatus {
    var schema: Components.Schemas.Publication {
        .init(videoId: videoID, status: .init(status), accountId: accountID, youtubeVideoId: youtubeVideoID,
              waitingUntil: waitingUntil, error: error)
    }
}
