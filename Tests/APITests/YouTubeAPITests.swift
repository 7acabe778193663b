@testable import API
import HTTPTypes
import Domain
import Foundation
import Providers
import Sandbox
import TestSupport
import Testing

/// The YouTube routes against the sandbox: connecting accounts through OAuth (tokens sealed
/// at rest, at most 15), their quota, publishing requests, analytics, and tenancy.
@Suite struct YouTubeAPITests {
    /// Runs the API wired to a fresh sandbox.
    func withYouTube<T: Sendable>(_ body: @Sendable (TestDatabase, APIClient, YouTubeSandbox, YouTubeIntegration) async throws -> T) async throws -> T {
        let sandbox = YouTubeSandbox()
        return try await withDatabase { db in
            try await sandbox.withRunning { base in
                let client = YouTubeClient(endpoints: .sandbox(base, redirectURL: "http://127.0.0.1:8000/api/v1/youtube/oauth/callback"),
                                           timeout: .seconds(10))
                let youtube = YouTubeIntegration(gateway: client, cipher: try TokenCipher(key: Data(repeating: 7, count: 32)), policy: QuotaPolicy())
                return try await withAPI(db, youtube: youtube) { api in try await body(db, api, sandbox, youtube) }
            }
        }
    }

    /// Connects the sandbox account `email` as the token's user: the consent URL, the user's
    /// approval, then Google's redirect to the callback.
    @discardableResult
    func connect(_ api: APIClient, _ sandbox: YouTubeSandbox, token: String, email: String) async throws -> APIClient.Reply {
        let started = try await api.call(.post, "/youtube/oauth/connect", json: ["login_hint": email], token: token)
        #expect(started.status == .ok, "\(started.body)")
        let url = try started.decode(Components.Schemas.ConnectStart.self).authorizationUrl
        let redirect = try #require(sandbox.consent(to: url, as: email))
        return try await confirm(api, redirect: redirect)
    }

    /// Google's redirect lands on the confirmation page; its button posts the state and code.
    func confirm(_ api: APIClient, redirect: String) async throws -> APIClient.Reply {
        let query = try #require(URLComponents(string: redirect)?.percentEncodedQuery)
        let page = try await api.call(.get, "/youtube/oauth/callback?" + query)
        guard page.status == .ok else { return page }
        let form = try Self.formFields(String(decoding: page.data, as: UTF8.self))
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return try await api.call(.post, "/youtube/oauth/callback", raw: body,
                                  headers: [.contentType: "application/x-www-form-urlencoded"])
    }

    /// The hidden fields of the confirmation page's form.
    static func formFields(_ html: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for match in html.matches(of: /<input type="hidden" name="(\w+)" value="([^"]*)">/) {
            fields[String(match.1)] = String(match.2).replacingOccurrences(of: "&amp;", with: "&")
        }
        #expect(fields.keys.sorted() == ["code", "state"])
        return fields
    }

    @Test func accountsConnectThroughOAuthWithSealedTokensAndAtMostFifteen() async throws {
        try await withYouTube { db, api, sandbox, youtube in
            let token = try await signUp(api, db, "accounts@example.com", tier: "enterprise")
            for index in 0..<15 {
                let connected = try await connect(api, sandbox, token: token, email: "creator\(index)@example.com")
                #expect(connected.status == .created, "\(connected.body) \(String(decoding: connected.data, as: UTF8.self))")
                let account = try connected.decode(Components.Schemas.YouTubeAccount.self)
                #expect(account.accountId.hasPrefix("yt_acc_") && account.youtubeChannelId == sandbox.channelID(email: "creator\(index)@example.com"))
            }
            let list = try await api.call(.get, "/youtube/accounts", token: token).decode(Components.Schemas.YouTubeAccountList.self)
            #expect(list.totalAccounts == 15)
            #expect(list.aggregatedQuota.used == 0 && list.aggregatedQuota.limit == 150_000)
            // The 16th is refused before anyone is sent to Google.
            let sixteenth = try await api.call(.post, "/youtube/oauth/connect", json: [:], token: token)
            #expect(sixteenth.status == .forbidden)
            #expect(try (sixteenth.decode(Components.Schemas.ErrorEnvelope.self).error) == "forbidden")
            #expect(try (sixteenth.decode(Components.Schemas.ErrorEnvelope.self).details?.reason) == "plan_limit_reached")

            // Tokens are sealed: neither column holds the token, and a sealed value does not open for another row.
            let accounts = YouTubeAccountRepository(client: db.client, cipher: youtube.cipher, policy: youtube.policy, logger: db.logger)
            let first = try #require(list.accounts.first?.accountId)
            let credentials = try #require(try await accounts.credentials(accountID: first))
            #expect(try await youtube.gateway.email(accessToken: credentials.accessToken) == "creator0@example.com")
            #expect(try await db.scalar("""
                SELECT count(*) FROM youtube_accounts
                 WHERE position(convert_to(\(credentials.accessToken), 'UTF8') IN access_token) > 0
                    OR position(convert_to(\(credentials.refreshToken), 'UTF8') IN refresh_token) > 0
                """) == 0)
            let sealed = try youtube.cipher.seal(credentials.refreshToken, context: first)
            #expect(throws: (any Error).self) { try youtube.cipher.open(sealed, context: "yt_acc_other") }

            let quota = try await api.call(.get, "/youtube/accounts/\(first)/quota", token: token)
            #expect(quota.status == .ok)
            let figures = try quota.decode(Components.Schemas.AccountQuota.self)
            #expect(figures.used == 0 && figures.limit == 10_000 && figures.available == 9_900 && figures.uploadsAvailable == 6)
            #expect(figures.costs?.additionalProperties["videos.insert"] == 1600)

            // Another user sees none of it.
            let stranger = try await signUp(api, db, "stranger@example.com")
            #expect(try await api.call(.get, "/youtube/accounts/\(first)/quota", token: stranger).status == .notFound)
            #expect(try await api.call(.delete, "/youtube/accounts/\(first)", token: stranger).status == .notFound)
            #expect(try await api.call(.get, "/youtube/accounts", token: stranger).decode(Components.Schemas.YouTubeAccountList.self).totalAccounts == 0)
            // A free plan holds one account.
            #expect(try await connect(api, sandbox, token: stranger, email: "solo@example.com").status == .created)
            #expect(try await api.call(.post, "/youtube/oauth/connect", json: [:], token: stranger).status == .forbidden)

            #expect(try await api.call(.delete, "/youtube/accounts/\(first)", token: token).status == .ok)
            #expect(try await api.call(.get, "/youtube/accounts/\(first)/quota", token: token).status == .notFound)
            #expect(try await api.call(.get, "/youtube/accounts", token: token).decode(Components.Schemas.YouTubeAccountList.self).totalAccounts == 14)
        }
    }

    @Test func theCallbackRefusesUnknownUsedAndDeniedStates() async throws {
        try await withYouTube { db, api, sandbox, _ in
            let token = try await signUp(api, db, "callback@example.com")
            #expect(try await api.call(.get, "/youtube/oauth/callback?state=made-up&code=4%2Fx").status == .forbidden)
            let started = try await api.call(.post, "/youtube/oauth/connect", json: [:], token: token)
            let url = try started.decode(Components.Schemas.ConnectStart.self).authorizationUrl
            let declined = try await api.call(.post, "/youtube/oauth/connect", json: [:], token: token)
            let declinedURL = try declined.decode(Components.Schemas.ConnectStart.self).authorizationUrl
            let declinedState = try #require(URLComponents(string: declinedURL)?.queryItems?.first { $0.name == "state" }?.value)
            // The user said no at Google.
            let denied = try await api.call(.get, "/youtube/oauth/callback?state=\(declinedState)&error=access_denied")
            #expect(denied.status == .forbidden)
            #expect(try (denied.decode(Components.Schemas.ErrorEnvelope.self).message).contains("access_denied") == true)
            let redirect = try #require(sandbox.consent(to: url, as: "once@example.com"))
            let query = try #require(URLComponents(string: redirect)?.percentEncodedQuery)
            #expect(try await confirm(api, redirect: redirect).status == .created)
            // A state works once.
            #expect(try await api.call(.get, "/youtube/oauth/callback?" + query).status == .forbidden)
            #expect(try await api.call(.post, "/youtube/oauth/connect", json: [:], token: token).status == .forbidden, "a free plan holds one account")
            #expect(try await api.call(.post, "/youtube/oauth/connect", json: ["login_hint": "not-an-email"], token: token).status == .badRequest)
        }
    }

    /// A victim who opens an attacker's consent link lands on a page naming the attacker's
    /// YTEmpire account; nothing is connected unless the page's button is pressed.
    @Test func aConsentLinkOfAnotherAccountShowsWhoseAccountWouldReceiveTheChannel() async throws {
        try await withYouTube { db, api, sandbox, _ in
            let attacker = try await signUp(api, db, "attacker@example.com")
            let started = try await api.call(.post, "/youtube/oauth/connect", json: [:], token: attacker)
            let url = try started.decode(Components.Schemas.ConnectStart.self).authorizationUrl
            // The victim consents at Google with their own channel.
            let redirect = try #require(sandbox.consent(to: url, as: "victim-channel@example.com"))
            let query = try #require(URLComponents(string: redirect)?.percentEncodedQuery)
            let page = try await api.call(.get, "/youtube/oauth/callback?" + query)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            let html = String(decoding: page.data, as: UTF8.self)
            #expect(html.contains("attacker@example.com"), "the page names the account that would receive the channel")
            #expect(html.contains(#"<form method="post""#))
            // The victim closes the page: nothing was stored, and the page can be shown again.
            #expect(try await db.scalar("SELECT count(*) FROM youtube_accounts") == 0)
            #expect(try await api.call(.get, "/youtube/oauth/callback?" + query).status == .ok)
            #expect(try await api.call(.get, "/youtube/accounts", token: attacker).decode(Components.Schemas.YouTubeAccountList.self).totalAccounts == 0)
            // A made-up state cannot be confirmed either.
            let forged = try await api.call(.post, "/youtube/oauth/callback", json: ["state": "made-up", "code": "4/x"])
            #expect(forged.status == .forbidden)
            // An HTML name is shown as text.
            #expect(OAuthConfirmationPage.escape(#"<script>"&'"#) == "&lt;script&gt;&quot;&amp;&#39;")
        }
    }

    @Test func publishingAskedForChecksTheVideoAndIsIdempotent() async throws {
        try await withYouTube { db, api, sandbox, _ in
            let token = try await signUp(api, db, "publisher@example.com", tier: "professional")
            let channel = try await api.call(.post, "/channels", json: ["name": "Main"], token: token).decode(Components.Schemas.Channel.self).id
            let user = try #require(try await db.client.query("SELECT id FROM users WHERE email = 'publisher@example.com'", logger: db.logger)
                .decode(String.self).first { _ in true })
            let storage = try FileArtifactStorage(root: FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-api-\(UUID().uuidString)"))
            let video = try await db.createCompletedVideo(userID: user, channelID: channel, bytes: 2_000, storage: storage)
            // No account yet.
            let early = try await api.call(.post, "/videos/\(video.id)/publish", token: token)
            #expect(early.status == .conflict, "\(early.body)")
            #expect(try (early.decode(Components.Schemas.ErrorEnvelope.self).error) == "invalid_state")
            #expect(try await connect(api, sandbox, token: token, email: "pub@example.com").status == .created)
            let queued = try await api.call(.post, "/videos/\(video.id)/publish", json: ["privacy_status": "unlisted"], token: token)
            #expect(queued.status == .accepted, "\(queued.body)")
            #expect(try queued.decode(Components.Schemas.Publication.self).status == .queued)
            // Asking again returns the same publication, not a second upload.
            #expect(try await api.call(.post, "/videos/\(video.id)/publish", token: token).status == .accepted)
            #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'video.publish'") == 1)
            let shown = try await api.call(.get, "/videos/\(video.id)", token: token).decode(Components.Schemas.Video.self)
            #expect(shown.status == .publishing)
            #expect(try await api.call(.post, "/videos/\(video.id)/publish", json: ["privacy_status": "secret"], token: token).status == .badRequest)
            // Unfinished videos cannot be published; another user's answer 404.
            let processing = try await api.call(.post, "/videos/generate", json: ["title": "Later", "channel_id": channel], token: token)
                .decode(Components.Schemas.VideoAccepted.self).videoId
            #expect(try await api.call(.post, "/videos/\(processing)/publish", token: token).status == .conflict)
            let stranger = try await signUp(api, db, "other-publisher@example.com")
            #expect(try await api.call(.post, "/videos/\(video.id)/publish", token: stranger).status == .notFound)
            #expect(try await api.call(.get, "/videos/\(video.id)/analytics", token: stranger).status == .notFound)
            // Before any sync the analytics have nothing to show, and say so.
            let analytics = try await api.call(.get, "/videos/\(video.id)/analytics", token: token)
            #expect(analytics.status == .ok)
            let figures = try analytics.decode(Components.Schemas.VideoAnalytics.self)
            #expect(figures.views == nil && figures.daily.isEmpty)
        }
    }

    @Test func channelSyncNeedsALinkedAccountAndAnalyticsAreScoped() async throws {
        try await withYouTube { db, api, sandbox, _ in
            let token = try await signUp(api, db, "syncer@example.com", tier: "starter")
            let unlinked = try await api.call(.post, "/channels", json: ["name": "Unlinked"], token: token).decode(Components.Schemas.Channel.self).id
            #expect(try await api.call(.post, "/channels/\(unlinked)/sync", token: token).status == .conflict)
            let account = try await connect(api, sandbox, token: token, email: "synced@example.com")
            let youtubeChannel = try account.decode(Components.Schemas.YouTubeAccount.self).youtubeChannelId
            let linked = try await api.call(.post, "/channels", json: ["name": "Linked", "youtube_channel_id": youtubeChannel], token: token)
                .decode(Components.Schemas.Channel.self).id
            let sync = try await api.call(.post, "/channels/\(linked)/sync", token: token)
            #expect(sync.status == .accepted)
            let jobID = try sync.decode(Components.Schemas.SyncAccepted.self).jobId
            // A second request within the minute shares the job.
            #expect(try await api.call(.post, "/channels/\(linked)/sync", token: token).decode(Components.Schemas.SyncAccepted.self).jobId == jobID)
            let analytics = try await api.call(.get, "/channels/\(linked)/analytics?days=7", token: token)
            #expect(analytics.status == .ok)
            let figures = try analytics.decode(Components.Schemas.ChannelAnalytics.self)
            #expect(figures.days == 7 && figures.daily.isEmpty)
            #expect(try await api.call(.get, "/channels/\(linked)/analytics?days=0", token: token).status == .badRequest)
            let health = try await api.call(.get, "/channels/\(linked)/health", token: token)
            #expect(health.status == .ok)
            let score = try health.decode(Components.Schemas.ChannelHealth.self)
            #expect(score.healthScore == 80 && score.factors.first?.factor == "never synced", "\(health.body)")
            let stranger = try await signUp(api, db, "nosy@example.com")
            for path in ["/channels/\(linked)/analytics", "/channels/\(linked)/health"] {
                #expect(try await api.call(.get, path, token: stranger).status == .notFound)
            }
            #expect(try await api.call(.post, "/channels/\(linked)/sync", token: stranger).status == .notFound)
        }
    }
}
