@testable import API
import Dispatcher
import Domain
import Foundation
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import Queue
import TestSupport
import Testing

/// RFC 6238 TOTP with its published test vectors (SHA-1, secret "12345678901234567890"),
/// checked on the last 6 of the RFC's 8 digits.
@Suite struct TwoFactorTests {
    @Test(arguments: [
        (59.0, "287082"), (1_111_111_109, "081804"), (1_111_111_111, "050471"),
        (1_234_567_890, "005924"), (2_000_000_000, "279037"), (20_000_000_000, "353130"),
    ])
    func rfc6238Vectors(time: Double, code: String) {
        let secret = "12345678901234567890"
        let date = Date(timeIntervalSince1970: time)
        let step = Int64(time) / 30
        #expect(TwoFactor.matchingStep(code: code, secret: secret, at: date) == step)
        // One step of drift either way, no more.
        #expect(TwoFactor.matchingStep(code: code, secret: secret, at: date.addingTimeInterval(30)) == step)
        #expect(TwoFactor.matchingStep(code: code, secret: secret, at: date.addingTimeInterval(-30)) == step)
        #expect(TwoFactor.matchingStep(code: code, secret: secret, at: date.addingTimeInterval(90)) == nil)
        #expect(TwoFactor.matchingStep(code: "000000", secret: secret, at: date) == nil || code == "000000")
        #expect(TwoFactor.matchingStep(code: "12a456", secret: secret, at: date) == nil)
    }
}

@Suite struct AccountTests {
    let password = testPassword

    /// The code an authenticator app shows for the URI's secret, `offset` seconds from now.
    func currentCode(_ uri: String, offset: TimeInterval = 0) throws -> String {
        let base32 = try #require(URLComponents(string: uri)?.queryItems?.first { $0.name == "secret" }?.value)
        let secret = String(decoding: Base32.decode(base32), as: UTF8.self)
        return String(format: "%06d", TOTP(secret: secret).compute(date: Date().addingTimeInterval(offset)))
    }

    @Test func twoFactorOnAndOff() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let tokens = try await signUpWithTokens(api, db, "grace@example.com")
                let setup = try await api.call(.post, "/auth/2fa/enable", token: tokens.access)
                #expect(setup.status == .ok)
                let uri = try setup.decode(Components.Schemas.TwoFactorSetup.self).otpauthUri
                #expect(uri.hasPrefix("otpauth://totp/"))
                #expect(try await api.call(.post, "/auth/2fa/verify", json: ["code": "000000"], token: tokens.access).status == .unauthorized)
                let code = try currentCode(uri)
                #expect(try await api.call(.post, "/auth/2fa/verify", json: ["code": code], token: tokens.access).status == .ok)
                // The secret is sealed at rest: nothing in clear, and not its bytes either.
                #expect(try await db.scalar("""
                    SELECT count(*) FROM users WHERE email = 'grace@example.com' AND totp_secret IS NULL AND totp_secret_sealed IS NOT NULL
                    """) == 1)

                // On: login needs a code, and a code works once.
                let withoutCode = try await api.call(.post, "/auth/login", json: ["email": "grace@example.com", "password": password])
                #expect(withoutCode.status == .unauthorized)
                #expect(try withoutCode.decode(Components.Schemas.ErrorEnvelope.self).details?.field == "totp_code")
                let replayed = try await api.call(.post, "/auth/login", json: ["email": "grace@example.com", "password": password, "totp_code": code])
                #expect(replayed.status == .unauthorized, "the step used to enable cannot log in again")
                let next = try currentCode(uri, offset: 30)
                let withCode = try await api.call(.post, "/auth/login", json: ["email": "grace@example.com", "password": password, "totp_code": next])
                #expect(withCode.status == .ok)
                #expect(try await api.call(.get, "/users/profile", token: tokens.access).decode(Components.Schemas.Profile.self).twoFactorEnabled)

                // Off again with a fresh code... the next step was used by the login, so none is left
                // in the window until time moves on; the used one is refused.
                #expect(try await api.call(.post, "/auth/2fa/disable", json: ["code": next], token: tokens.access).status == .unauthorized)
                try await db.client.query("UPDATE users SET totp_last_step = totp_last_step - 3", logger: db.logger)
                #expect(try await api.call(.post, "/auth/2fa/disable", json: ["code": next], token: tokens.access).status == .ok)
                let plain = try await api.call(.post, "/auth/login", json: ["email": "grace@example.com", "password": password])
                #expect(plain.status == .ok)
            }
        }
    }

    /// Logs `legacy@example.com` in with the current code of `secret`.
    func legacyLogin(_ api: APIClient, secret: String) async throws -> HTTPResponse.Status {
        let code = try currentCode(TwoFactor.authenticatorURI(secret: secret, account: "legacy@example.com"))
        return try await api.call(.post, "/auth/login", json: ["email": "legacy@example.com", "password": password, "totp_code": code]).status
    }

    /// Secrets stored in clear before secrets were sealed are sealed by the leader's chore,
    /// or when read, and still open: their owners' codes keep working.
    @Test func clearTwoFactorSecretsAreSealedAndStillWork() async throws {
        try await withDatabase { db in
            let cipher = try TokenCipher(key: Data(repeating: 9, count: 32))
            let secret = "ABCDEFGHIJKLMNOPQRST"
            try await withAPI(db, secrets: cipher) { api in
                _ = try await signUpWithTokens(api, db, "legacy@example.com")
            }
            func makeLegacy() async throws {
                try await db.client.query("""
                    UPDATE users SET totp_secret = \(secret), totp_secret_sealed = NULL, totp_enabled = true, totp_last_step = NULL
                     WHERE email = 'legacy@example.com'
                    """, logger: db.logger)
            }
            // Sealed by the leader's chore.
            try await makeLegacy()
            let sealer = TwoFactorSecretSealer(users: UserRepository(client: db.client, logger: db.logger, cipher: cipher))
            #expect(try await sealer.runOnce() == 1)
            #expect(try await db.scalar("SELECT count(*) FROM users WHERE totp_secret IS NOT NULL OR totp_secret_sealed IS NULL") == 0)
            try await withAPI(db, secrets: cipher) { api in
                let status = try await legacyLogin(api, secret: secret)
                #expect(status == .ok)
            }
            // Sealed when read, by a login.
            try await makeLegacy()
            try await withAPI(db, secrets: cipher) { api in
                let status = try await legacyLogin(api, secret: secret)
                #expect(status == .ok)
            }
            #expect(try await db.scalar("SELECT count(*) FROM users WHERE totp_secret IS NOT NULL OR totp_secret_sealed IS NULL") == 0)
        }
    }

    @Test func passwordResetRevokesEverySession() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let tokens = try await signUpWithTokens(api, db, "reset@example.com")
                #expect(try await api.call(.post, "/auth/forgot-password", json: ["email": "reset@example.com"]).status == .accepted)
                #expect(try await api.call(.post, "/auth/forgot-password", json: ["email": "nobody@example.com"]).status == .accepted)
                let rows = try await db.client.query("SELECT body FROM email_outbox WHERE subject LIKE 'Reset%'", logger: db.logger)
                var bodies: [String] = []
                for try await body in rows.decode(String.self) { bodies.append(body) }
                #expect(bodies.count == 1, "no email for an unknown address")
                let token = try #require(bodies.first?.split(separator: "\n").first { $0.count == 43 }.map(String.init))
                let weak = try await api.call(.post, "/auth/reset-password", json: ["token": token, "new_password": "short"])
                #expect(weak.status == .badRequest)
                let newPassword = "AnotherHorse77staple"
                #expect(try await api.call(.post, "/auth/reset-password", json: ["token": token, "new_password": newPassword]).status == .ok)
                #expect(try await api.call(.post, "/auth/reset-password", json: ["token": token, "new_password": newPassword]).status == .unauthorized)
                #expect(try await api.call(.get, "/users/profile", token: tokens.access).status == .unauthorized)
                #expect(try await api.call(.post, "/auth/refresh", json: ["refresh_token": tokens.refresh]).status == .unauthorized)
                #expect(try await api.call(.post, "/auth/login", json: ["email": "reset@example.com", "password": password]).status == .unauthorized)
                #expect(try await api.call(.post, "/auth/login", json: ["email": "reset@example.com", "password": newPassword]).status == .ok)
            }
        }
    }

    /// A squatter registers someone else's email and sets the account up; when the real owner
    /// takes it over with a password reset (the first proof of owning the address), the
    /// squatter's webhooks, YouTube accounts, two-factor and sessions are gone and the email
    /// is verified. A verified account's reset keeps its setup.
    @Test func aResetThatFirstProvesTheEmailRemovesASquattersSetup() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let squatter = try await signUpWithTokens(api, db, "victim@example.com")
                let hook = try await api.call(.post, "/webhooks", json: ["url": "https://collector.example.net/in", "events": ["video.completed"]],
                                              token: squatter.access)
                #expect(hook.status == .created)
                let setup = try await api.call(.post, "/auth/2fa/enable", token: squatter.access)
                let code = try currentCode(try setup.decode(Components.Schemas.TwoFactorSetup.self).otpauthUri)
                #expect(try await api.call(.post, "/auth/2fa/verify", json: ["code": code], token: squatter.access).status == .ok)
                try await db.client.query("""
                    INSERT INTO youtube_accounts (id, user_id, email, youtube_channel_id, channel_name, access_token, refresh_token,
                                                  token_expires_at, quota_limit, quota_day)
                    SELECT 'yt_acc_squat', id, 'squatter@example.net', 'UCsquat', 'Squat', '\\x00', '\\x00', now(), 10000, current_date
                      FROM users WHERE email = 'victim@example.com'
                    """, logger: db.logger)

                // The owner resets the password from the mailbox.
                #expect(try await api.call(.post, "/auth/forgot-password", json: ["email": "victim@example.com"]).status == .accepted)
                let rows = try await db.client.query("SELECT body FROM email_outbox WHERE subject LIKE 'Reset%'", logger: db.logger)
                var token = ""
                for try await body in rows.decode(String.self) { token = body.split(separator: "\n").first { $0.count == 43 }.map(String.init) ?? "" }
                let newPassword = "OwnersHorse88staple"
                #expect(try await api.call(.post, "/auth/reset-password", json: ["token": token, "new_password": newPassword]).status == .ok)

                #expect(try await api.call(.get, "/users/profile", token: squatter.access).status == .unauthorized)
                let owner = try await api.call(.post, "/auth/login", json: ["email": "victim@example.com", "password": newPassword])
                #expect(owner.status == .ok, "no two-factor code asked: the squatter's 2FA is gone")
                let access = try owner.decode(Components.Schemas.TokenResponse.self).accessToken
                let profile = try await api.call(.get, "/users/profile", token: access).decode(Components.Schemas.Profile.self)
                #expect(profile.emailVerified && !profile.twoFactorEnabled)
                #expect(try await db.scalar("SELECT count(*) FROM webhook_endpoints") == 0)
                #expect(try await db.scalar("SELECT count(*) FROM youtube_accounts") == 0)

                // A verified account's reset keeps its webhooks.
                #expect(try await api.call(.post, "/webhooks", json: ["url": "https://owner.example.net/in", "events": ["video.completed"]],
                                           token: access).status == .created)
                #expect(try await api.call(.post, "/auth/forgot-password", json: ["email": "victim@example.com"]).status == .accepted)
                let again = try await db.client.query("SELECT body FROM email_outbox WHERE subject LIKE 'Reset%' ORDER BY id DESC LIMIT 1",
                                                      logger: db.logger)
                var second = ""
                for try await body in again.decode(String.self) { second = body.split(separator: "\n").first { $0.count == 43 }.map(String.init) ?? "" }
                #expect(try await api.call(.post, "/auth/reset-password", json: ["token": second, "new_password": "ThirdHorse99staple"]).status == .ok)
                #expect(try await db.scalar("SELECT count(*) FROM webhook_endpoints") == 1)
            }
        }
    }

    @Test func theCredentialPrunerRemovesOnlyWhatCanNoLongerBeUsed() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let live = try await signUpWithTokens(api, db, "live@example.com")
                let old = try await signUpWithTokens(api, db, "old@example.com")
                #expect(try await api.call(.post, "/auth/logout", json: ["refresh_token": old.refresh], token: old.access).status == .ok)
                // Age the signed-out session and its tokens past the retention.
                try await db.client.query("""
                    UPDATE sessions SET revoked_at = now() - interval '30 days' WHERE revoked_at IS NOT NULL
                    """, logger: db.logger)
                try await db.client.query("""
                    UPDATE refresh_tokens SET expires_at = now() - interval '30 days'
                     WHERE session_id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL)
                    """, logger: db.logger)
                try await db.client.query("UPDATE email_tokens SET expires_at = now() - interval '30 days'", logger: db.logger)
                let pruned = try await CredentialPruner(client: db.client, logger: db.logger).runOnce()
                #expect(pruned >= 2)
                #expect(try await db.scalar("SELECT count(*) FROM sessions") == 1)
                #expect(try await db.scalar("SELECT count(*) FROM email_tokens") == 0)
                // The live session is untouched and keeps working.
                #expect(try await api.call(.get, "/users/profile", token: live.access).status == .ok)
                #expect(try await api.call(.post, "/auth/refresh", json: ["refresh_token": live.refresh]).status == .ok)
            }
        }
    }

    @Test func profileAndSettings() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let tokens = try await signUpWithTokens(api, db, "settings@example.com")
                let updated = try await api.call(.put, "/users/profile", json: ["full_name": "Rear Admiral Hopper", "company": "Navy"], token: tokens.access)
                #expect(updated.status == .ok)
                let profile = try updated.decode(Components.Schemas.Profile.self)
                #expect(profile.fullName == "Rear Admiral Hopper" && profile.company == "Navy")
                let defaults = try await api.call(.get, "/users/settings", token: tokens.access).decode(Components.Schemas.Settings.self)
                #expect(defaults.timezone == "UTC")
                let changed = try await api.call(.put, "/users/settings", json: ["timezone": "Europe/Berlin", "default_cost_limit": 2.5], token: tokens.access)
                #expect(changed.status == .ok)
                let settings = try changed.decode(Components.Schemas.Settings.self)
                #expect(settings.timezone == "Europe/Berlin" && settings.language == "en" && settings.defaultCostLimit == 2.5)
                let badZone = try await api.call(.put, "/users/settings", json: ["timezone": "Mars/Olympus"], token: tokens.access)
                #expect(badZone.status == .badRequest)
                #expect(try badZone.decode(Components.Schemas.ErrorEnvelope.self).details?.field == "timezone")
                let badLimit = try await api.call(.put, "/users/settings", json: ["default_cost_limit": -1], token: tokens.access)
                #expect(badLimit.status == .badRequest)
                #expect(try await api.call(.get, "/users/settings").status == .unauthorized)
            }
        }
    }

    @Test func everyUserSeesAndChangesOnlyTheirOwnAccount() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let ada = try await signUpWithTokens(api, db, "ada@tenancy.example.com")
                let bob = try await signUpWithTokens(api, db, "bob@tenancy.example.com")
                _ = try await api.call(.put, "/users/profile", json: ["company": "Bob Corp"], token: bob.access)
                _ = try await api.call(.put, "/users/settings", json: ["timezone": "Asia/Tokyo"], token: bob.access)
                let adaProfile = try await api.call(.get, "/users/profile", token: ada.access).decode(Components.Schemas.Profile.self)
                #expect(adaProfile.email == "ada@tenancy.example.com" && adaProfile.company == nil)
                #expect(try await api.call(.get, "/users/settings", token: ada.access).decode(Components.Schemas.Settings.self).timezone == "UTC")
                // Bob's refresh token cannot end Ada's session, nor Ada's code change Bob's 2FA.
                #expect(try await api.call(.post, "/auth/logout", json: ["refresh_token": bob.refresh]).status == .ok)
                #expect(try await api.call(.get, "/users/profile", token: ada.access).status == .ok)
                #expect(try await api.call(.get, "/users/profile", token: bob.access).status == .unauthorized)
            }
        }
    }

    @Test func jobsQueuedBeforeOwnersExistedGetTheirOwnerFromTheirArguments() async throws {
        let all = try Migration.all()
        let db = try await TestDatabase.make(migrations: all.filter { $0.version < 110 })
        defer { db.close() }
        // Written by a build before migration 0110: the owner only in the arguments.
        let rows = try await db.client.query("""
            INSERT INTO jobs (kind, args, state, finished_at) VALUES
              ('video.script', '{"user_id": "usr_a", "video_id": "vid_1"}', 'available', NULL),
              ('video.voice', '{"user_id": "usr_a", "video_id": "vid_2"}', 'completed', now()),
              ('noop', '{}', 'available', NULL)
            RETURNING id
            """, logger: db.logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        try await Migrator(client: db.client, migrations: all, logger: db.logger).migrate()
        let store = JobStore(client: db.client, logger: db.logger)
        #expect(try await store.unfinishedJobIDs(ownedBy: "usr_a") == [ids[0]])
        #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE owner IS NOT NULL") == 1, "finished jobs are left as they were")
    }

    @Test func deletingTheAccountCancelsItsJobsAndRemovesItsData() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let tokens = try await signUpWithTokens(api, db, "leaving@example.com")
                let other = try await signUpWithTokens(api, db, "staying@example.com")
                let profile = try await api.call(.get, "/users/profile", token: tokens.access)
                let userID = try profile.decode(Components.Schemas.Profile.self).id
                let otherID = try await api.call(.get, "/users/profile", token: other.access).decode(Components.Schemas.Profile.self).id
                let store = JobStore(client: db.client, logger: db.logger)
                let mine = try await store.insert(NewJob(kind: "noop", owner: userID))
                let theirs = try await store.insert(NewJob(kind: "noop", owner: otherID))

                let wrong = try await api.call(.delete, "/users/account", json: ["password": "not-the-password"], token: tokens.access)
                #expect(wrong.status == .unauthorized)
                #expect(try await api.call(.delete, "/users/account", json: ["password": password], token: tokens.access).status == .ok)
                #expect(try await store.job(id: mine.id)?.state == .cancelled)
                #expect(try await store.job(id: theirs.id)?.state == .available)
                #expect(try await db.scalar("SELECT count(*) FROM users WHERE id = \(userID)") == 0)
                #expect(try await db.scalar("SELECT count(*) FROM sessions WHERE user_id = \(userID)") == 0)
                #expect(try await api.call(.get, "/users/profile", token: tokens.access).status == .unauthorized)
                #expect(try await api.call(.get, "/users/profile", token: other.access).status == .ok)
            }
        }
    }
}

/// RFC 4648 base32 decoding, for reading the secret back out of an otpauth URI.
enum Base32 {
    static func decode(_ text: String) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var buffer = 0, bits = 0
        var out: [UInt8] = []
        for character in text.uppercased() where character != "=" {
            guard let value = alphabet.firstIndex(of: character) else { continue }
            buffer = (buffer << 5) | value
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return out
    }
}
