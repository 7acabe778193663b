@testable import API
import Domain
import Models
import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import TestSupport
import Testing

// What the API suites share: the test settings, a JSON client of the router, an API on a
// fresh database, and a signed-in user.

/// Settings for tests: a fast bcrypt and a key generated once per test run.
enum TestAuth {
    static let keyDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-test-keys-\(ProcessInfo.processInfo.processIdentifier)").path
    static var configuration: AuthConfiguration { AuthConfiguration(keyDirectory: keyDirectory, bcryptCost: 4) }

    /// A rate-limit window no test run straddles: windows are fixed and aligned to the epoch,
    /// so a short one may roll over in the middle of a test (at the top of the hour, say).
    static let longWindow: Duration = .seconds(10 * 365 * 86_400)

    /// Limits high enough that the flows under test never meet them (RateLimitTests meets them).
    static var generousLimits: RateLimitPolicy {
        var policy = RateLimitPolicy()
        policy.authentication = .init(requests: 10_000, window: .seconds(60))
        policy.general = .init(requests: 10_000, window: .seconds(3600))
        policy.failedLoginsPerEmail = .init(requests: 10_000, window: .seconds(900))
        return policy
    }
}

/// A client of the API under test with helpers for JSON calls.
struct APIClient {
    let client: any TestClientProtocol

    struct Reply {
        var status: HTTPResponse.Status
        var body: [String: Any]
        var headers: HTTPFields
        /// The raw body (downloads).
        var data = Data()

        /// The body decoded into a type generated from `openapi.yaml`: an answer that does not
        /// match the contract's shape (a missing field, a wrong type, an unknown enum value)
        /// fails the test here.
        func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            try Self.decoder.decode(T.self, from: data)
        }

        static let decoder: JSONDecoder = {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .custom { decoder in
                let text = try decoder.singleValueContainer().decode(String.self)
                let precise = ISO8601DateFormatter()
                precise.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                guard let date = precise.date(from: text) ?? ISO8601DateFormatter().date(from: text) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 date: \(text)"))
                }
                return date
            }
            return decoder
        }()
    }

    @discardableResult
    func call(_ method: HTTPRequest.Method, _ path: String, json: [String: Any]? = nil, raw: String? = nil, token: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(data: try JSONSerialization.data(withJSONObject: json))
            headers[.contentType] = "application/json"
        } else if let raw {
            body = ByteBuffer(string: raw)
            if headers[.contentType] == nil { headers[.contentType] = "application/json" }
        }
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/api/v1" + path, method: method, headers: headers, body: body) { response in
            let data = Data(buffer: response.body)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Reply(status: response.status, body: object, headers: response.headers, data: data)
        }
    }
}

@discardableResult
func withAPI<T: Sendable>(_ db: TestDatabase, rateLimits: RateLimitPolicy = TestAuth.generousLimits, cors: CORSPolicy = CORSPolicy(),
                          plan: PipelinePlan = .offline, artifacts: (any ArtifactStorage)? = nil, youtube: YouTubeIntegration? = nil,
                          secrets: TokenCipher? = nil, payments: Payments? = nil, stripeWebhookSecrets: [String] = [],
                          models: ModelService? = nil, docs: APIReference? = nil, _ body: @Sendable (APIClient) async throws -> T) async throws -> T {
    let router = try await APIServer.makeRouters(client: db.client, registry: PrometheusCollectorRegistry(), version: "test",
                                                auth: TestAuth.configuration, rateLimits: rateLimits, cors: cors, plan: plan,
                                                artifacts: artifacts, youtube: youtube, secrets: secrets, payments: payments,
                                                stripeWebhookSecrets: stripeWebhookSecrets, models: models, docs: docs, logger: db.logger).http
    return try await Application(router: router).test(.router) { client in try await body(APIClient(client: client)) }
}

/// The password the shared sign-up gives every test user.
let testPassword = "CorrectHorse42battery"

/// Registers and signs in a user, optionally on another plan; returns the access token.
func signUp(_ api: APIClient, _ db: TestDatabase, _ email: String, tier: String? = nil) async throws -> String {
    try await signUpWithTokens(api, db, email, tier: tier).access
}

/// Registers and signs in a user (with `testPassword`), optionally on another plan; returns
/// both tokens of the login's reply, read as the contract's `TokenResponse`.
func signUpWithTokens(_ api: APIClient, _ db: TestDatabase, _ email: String, tier: String? = nil) async throws -> (access: String, refresh: String) {
    _ = try await api.call(.post, "/auth/register", json: ["email": email, "password": testPassword, "full_name": "Test User"])
    if let tier { try await db.client.query("UPDATE users SET subscription_tier = \(tier) WHERE email = \(email)", logger: db.logger) }
    let tokens = try await api.call(.post, "/auth/login", json: ["email": email, "password": testPassword])
        .decode(Components.Schemas.TokenResponse.self)
    return (tokens.accessToken, tokens.refreshToken)
}
