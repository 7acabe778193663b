@testable import API
import Crypto
import _CryptoExtras
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import PostgresNIO
import Prometheus
import Queue
import TestSupport
import Testing

@Suite struct AuthTests {
    let password = "CorrectHorse42battery"

    func register(_ api: APIClient, _ email: String) async throws -> APIClient.Reply {
        try await api.call(.post, "/auth/register", json: ["email": email, "password": password, "full_name": "Ada Lovelace", "company": "YTEmpire Inc"])
    }

    func login(_ api: APIClient, _ email: String) async throws -> (access: String, refresh: String) {
        let reply = try await api.call(.post, "/auth/login", json: ["email": email, "password": password])
        #expect(reply.status == .ok)
        let tokens = try reply.decode(Components.Schemas.TokenResponse.self)
        return (tokens.accessToken, tokens.refreshToken)
    }

    @Test func registerVerifyLoginProfileRefreshReuseLogout() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let registered = try await register(api, "ada@example.com")
                #expect(registered.status == .created)
                let answer = try registered.decode(Components.Schemas.RegisterResponse.self)
                #expect(answer.userId.hasPrefix("usr_") && answer.verificationSent && answer.email == "ada@example.com")
                #expect(answer.message == "Registration successful. Please verify your email.")

                // The verification email sits in the outbox; its token verifies once.
                let rows = try await db.client.query("SELECT body FROM email_outbox WHERE recipient = 'ada@example.com'", logger: db.logger)
                var emailBody = ""
                for try await body in rows.decode(String.self) { emailBody = body }
                let tokenLine = try #require(emailBody.split(separator: "\n").first { $0.count == 43 })
                let token = String(tokenLine)
                let verified = try await api.call(.post, "/auth/verify-email", json: ["token": token])
                #expect(verified.status == .ok)
                #expect(try await api.call(.post, "/auth/verify-email", json: ["token": token]).status == .unauthorized)

                let first = try await login(api, "ADA@example.com")
                let profile = try await api.call(.get, "/users/profile", token: first.access)
                #expect(profile.status == .ok)
                let read = try profile.decode(Components.Schemas.Profile.self)
                #expect(read.email == "ada@example.com" && read.emailVerified)
                #expect(read.subscription.tier == "free" && read.subscription.videosRemaining == 10)
                // Untyped on purpose: the key is present and null (the generated type cannot tell absent from null).
                #expect((profile.body["subscription"] as? [String: Any])?["expires_at"] is NSNull, "no paid period before payments")

                let rotated = try await api.call(.post, "/auth/refresh", json: ["refresh_token": first.refresh])
                #expect(rotated.status == .ok)
                let rotatedTokens = try rotated.decode(Components.Schemas.TokenResponse.self)
                let (second, secondAccess) = (rotatedTokens.refreshToken, rotatedTokens.accessToken)
                #expect(second != first.refresh)
                #expect(try await api.call(.get, "/users/profile", token: secondAccess).status == .ok)

                // Presenting the used token again revokes the whole session: the newest refresh
                // token and every access token of the session stop working.
                let reuse = try await api.call(.post, "/auth/refresh", json: ["refresh_token": first.refresh])
                #expect(reuse.status == .unauthorized)
                #expect(try (reuse.decode(Components.Schemas.ErrorEnvelope.self).message).contains("already used") == true)
                #expect(try await api.call(.post, "/auth/refresh", json: ["refresh_token": second]).status == .unauthorized)
                #expect(try await api.call(.get, "/users/profile", token: secondAccess).status == .unauthorized)

                // Logout ends a fresh session the same way.
                let third = try await login(api, "ada@example.com")
                #expect(try await api.call(.post, "/auth/logout", json: ["refresh_token": third.refresh]).status == .ok)
                #expect(try await api.call(.get, "/users/profile", token: third.access).status == .unauthorized)
                #expect(try await api.call(.post, "/auth/refresh", json: ["refresh_token": third.refresh]).status == .unauthorized)
            }
        }
    }

    /// An unknown email costs what a wrong password costs: one bcrypt verification against a
    /// hash made at start, and no hashing (which would double the time and tell them apart).
    @Test func anUnknownEmailCostsTheSameBcryptWorkAsAWrongPassword() async throws {
        try await withDatabase { db in
            let routers = try await APIServer.makeRouters(client: db.client, registry: PrometheusCollectorRegistry(), version: "test",
                                                         auth: TestAuth.configuration, rateLimits: TestAuth.generousLimits, logger: db.logger)
            let passwords = routers.passwords
            try await Application(router: routers.http).test(.router) { client in
                let api = APIClient(client: client)
                #expect(try await register(api, "known@example.com").status == .created)
                let before = passwords.computations
                let wrong = try await api.call(.post, "/auth/login", json: ["email": "known@example.com", "password": "WrongHorse42battery"])
                let afterWrong = passwords.computations
                let unknown = try await api.call(.post, "/auth/login", json: ["email": "nobody@example.com", "password": "WrongHorse42battery"])
                let afterUnknown = passwords.computations
                #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
                #expect(try (wrong.decode(Components.Schemas.ErrorEnvelope.self).message) == (unknown.decode(Components.Schemas.ErrorEnvelope.self).message))
                #expect(afterWrong.hashes - before.hashes == 0 && afterWrong.verifications - before.verifications == 1)
                #expect(afterUnknown.hashes - afterWrong.hashes == 0 && afterUnknown.verifications - afterWrong.verifications == 1)
            }
        }
    }

    @Test func registrationRulesAndDuplicates() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                #expect(try await register(api, "dup@example.com").status == .created)
                let again = try await register(api, "DUP@example.com")
                #expect(again.status == .conflict)
                #expect(try (again.decode(Components.Schemas.ErrorEnvelope.self).error) == "conflict")
                let badEmail = try await register(api, "not-an-email")
                #expect(badEmail.status == .badRequest)
                #expect(try (badEmail.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == "email")
                let weak = try await api.call(.post, "/auth/register", json: ["email": "w@example.com", "password": "short", "full_name": "W"])
                #expect(weak.status == .badRequest)
                #expect(try (weak.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == "password")
                let wrongPassword = try await api.call(.post, "/auth/login", json: ["email": "dup@example.com", "password": "WrongPassword99"])
                #expect(wrongPassword.status == .unauthorized)
                let unknown = try await api.call(.post, "/auth/login", json: ["email": "nobody@example.com", "password": password])
                #expect(unknown.status == .unauthorized)
                #expect(try (unknown.decode(Components.Schemas.ErrorEnvelope.self).message) == (wrongPassword.decode(Components.Schemas.ErrorEnvelope.self).message), "no account enumeration")
            }
        }
    }

    @Test func malformedInputGetsTheEnvelopeOnEveryRoute() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                for path in ["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/verify-email"] {
                    let broken = try await api.call(.post, path, raw: "{not json")
                    #expect(broken.status == .badRequest, "\(path)")
                    #expect(try (broken.decode(Components.Schemas.ErrorEnvelope.self).error) == "validation_error", "\(path)")
                    let wrongType = try await api.call(.post, path, json: ["email": 5, "password": true, "refresh_token": 1, "token": [1]])
                    #expect(wrongType.status == .badRequest, "\(path)")
                    let empty = try await api.call(.post, path, json: [:])
                    #expect(empty.status == .badRequest, "\(path)")
                    #expect(try (empty.decode(Components.Schemas.ErrorEnvelope.self).details?.issue) == "is required", "\(path)")
                }
            }
        }
    }

    @Test func malformedInputGetsTheEnvelopeOnSignedInRoutes() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                _ = try await register(api, "mal@example.com")
                let tokens = try await login(api, "mal@example.com")
                let routes: [(HTTPRequest.Method, String)] = [
                    (.put, "/users/profile"), (.put, "/users/settings"), (.delete, "/users/account"),
                    (.post, "/auth/2fa/verify"), (.post, "/auth/2fa/disable"), (.post, "/auth/forgot-password"), (.post, "/auth/reset-password"),
                ]
                for (method, path) in routes {
                    let broken = try await api.call(method, path, raw: "{not json", token: tokens.access)
                    #expect(broken.status == .badRequest, "\(method) \(path)")
                    #expect(try (broken.decode(Components.Schemas.ErrorEnvelope.self).error) == "validation_error", "\(method) \(path)")
                    let wrongType = try await api.call(method, path, json: ["full_name": 7, "timezone": false, "password": 1, "code": 123456, "email": [], "token": 1],
                                                       token: tokens.access)
                    #expect(wrongType.status == .badRequest, "\(method) \(path)")
                    #expect(try !wrongType.decode(Components.Schemas.ErrorEnvelope.self).message.isEmpty, "\(method) \(path)")
                }
                let tooLong = try await api.call(.put, "/users/profile", json: ["company": String(repeating: "x", count: 201)], token: tokens.access)
                #expect(tooLong.status == .badRequest)
                #expect(try (tooLong.decode(Components.Schemas.ErrorEnvelope.self).details?.field) == "company")
            }
        }
    }

    @Test func tokenAttacksAreRefused() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                _ = try await register(api, "eve@example.com")
                let good = try await login(api, "eve@example.com")
                let parts = good.access.split(separator: ".").map(String.init)
                let claims = try #require(try JSONSerialization.jsonObject(with: base64URLDecode(parts[1])) as? [String: Any])

                func forge(header: [String: Any], payload: [String: Any], sign: (String) -> String) throws -> String {
                    let h = Base64URL.encode(try JSONSerialization.data(withJSONObject: header))
                    let p = Base64URL.encode(try JSONSerialization.data(withJSONObject: payload))
                    return "\(h).\(p).\(sign("\(h).\(p)"))"
                }
                // alg none
                let none = try forge(header: ["alg": "none", "typ": "JWT"], payload: claims) { _ in "" }
                // HS256 signed with the public key's JWKS text as the secret (the classic confusion).
                let jwks = try await api.client.execute(uri: "/.well-known/jwks.json", method: .get) { String(buffer: $0.body) }
                let hmac = try forge(header: ["alg": "HS256", "typ": "JWT"], payload: claims) { input in
                    Base64URL.encode(Data(HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(jwks.utf8)))))
                }
                // A bad signature: the right header and claims, another signature.
                let tampered = parts[0] + "." + parts[1] + "." + String(parts[2].reversed())
                // Claims changed under the original signature.
                var other = claims
                other["sub"] = "usr_someoneelse"
                let resigned = try forge(header: ["alg": "RS256", "kid": "x"], payload: other) { _ in parts[2] }
                // Signed correctly by a different key, for another audience, or expired.
                let foreignKeys = JWTKeyCollection()
                await foreignKeys.add(rsa: try JWTKit.Insecure.RSA.PrivateKey(pem: _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation), digestAlgorithm: .sha256)
                let foreign = try await foreignKeys.sign(try JSONDecoder().decode(AccessClaims.self, from: base64URLDecode(parts[1])))
                let signer = try await TokenSigner.load(TestAuth.configuration)
                var audience = try JSONDecoder().decode(AccessClaims.self, from: base64URLDecode(parts[1]))
                audience.aud = .init(value: ["someone-else"])
                let wrongAudience = try await signer.keys.sign(audience, kid: JWKIdentifier(string: signer.kid))
                var stale = try JSONDecoder().decode(AccessClaims.self, from: base64URLDecode(parts[1]))
                stale.exp = .init(value: Date().addingTimeInterval(-5))
                let expired = try await signer.keys.sign(stale, kid: JWKIdentifier(string: signer.kid))

                #expect(try await api.call(.get, "/users/profile", token: good.access).status == .ok)
                for (name, token) in [("none", none), ("hs256", hmac), ("tampered", tampered), ("resigned", resigned),
                                      ("foreign key", foreign), ("audience", wrongAudience), ("expired", expired),
                                      ("garbage", "not.a.jwt"), ("empty", "")] {
                    let reply = try await api.call(.get, "/users/profile", token: token)
                    #expect(reply.status == .unauthorized, "\(name)")
                    #expect(try (reply.decode(Components.Schemas.ErrorEnvelope.self).error) == "unauthorized", "\(name)")
                }
                #expect(try await api.call(.get, "/users/profile").status == .unauthorized)
            }
        }
    }

    @Test func jwksPublishesTheSigningKey() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let jwks = try await api.client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                    #expect(response.status == .ok)
                    return try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: [[String: String]]])
                }
                let key = try #require(jwks["keys"]?.first)
                #expect(key["kty"] == "RSA")
                #expect(key["alg"] == "RS256")
                #expect(key["kid"]?.isEmpty == false)
                // The token's header names the same key.
                _ = try await register(api, "kid@example.com")
                let tokens = try await login(api, "kid@example.com")
                let header = try #require(try JSONSerialization.jsonObject(with: base64URLDecode(String(tokens.access.split(separator: ".")[0]))) as? [String: Any])
                #expect(header["kid"] as? String == key["kid"])
                #expect(header["alg"] as? String == "RS256")
            }
        }
    }
}

func base64URLDecode(_ text: String) -> Data {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64) ?? Data()
}
